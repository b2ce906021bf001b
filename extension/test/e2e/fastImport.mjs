// Writes many commits into a test repository at once: `git fast-import` reading `chunks` (strings
// and Buffers of its stream format) on stdin. The smoke steps make 1,000-experiment and
// 20-experiment × 10-plot projects with it in about a second.
import { execFile } from "node:child_process";

/** Feeds `chunks` to `git fast-import --quiet --force` in `repo`; resolves when git has written them. */
export function fastImport(repo, chunks) {
  return new Promise((resolve, reject) => {
    const child = execFile("git", ["-C", repo, "fast-import", "--quiet", "--force"], (error) => (error ? reject(error) : resolve()));
    for (const chunk of chunks) {
      child.stdin.write(chunk);
    }
    child.stdin.end();
  });
}
