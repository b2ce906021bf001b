// Followed queue logs: the answer and the pushed chunks put in order by byte offset, and what is shown.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { FollowQueueLogResult, QueueLogUpdatedParams } from "../../src/protocol";
import { LogAssembly, LogFollows } from "../../src/queueLogModel";

function answer(text: string, more: Partial<FollowQueueLogResult> = {}): FollowQueueLogResult {
  return { entryId: "e1", name: "sweep-1", status: "running", text, offset: Buffer.byteLength(text), done: false, ...more };
}

/** Chunks as the helper sends them for `pieces` of the log after `from`; the last one `done` when asked. */
function chunks(from: number, pieces: string[], last?: { status: string; reason?: string }): QueueLogUpdatedParams[] {
  let start = from;
  return pieces.map((text, i) => {
    const end = start + Buffer.byteLength(text);
    const done = last !== undefined && i === pieces.length - 1;
    const chunk = { entryId: "e1", start, text, offset: end, status: done ? last.status : "running", done,
      reason: done ? last.reason ?? "" : "" };
    start = end;
    return chunk;
  });
}

function shownText(follows: LogFollows, all: QueueLogUpdatedParams[]): { text: string; ending?: string } {
  let text = "";
  let ending: string | undefined;
  for (const chunk of all) {
    const shown = follows.take(chunk);
    text += shown?.text ?? "";
    ending = shown?.ending ?? ending;
  }
  return { text, ending };
}

test("chunks in order are appended after the answer, and done ends with the status line", () => {
  const follows = new LogFollows();
  const first = follows.begin(answer("# sweep-1\n"));
  assert.deepEqual(first, { entryId: "e1", name: "sweep-1", text: "# sweep-1\n", ending: undefined });
  const all = chunks(10, ["line 0\n", "line 1 é\n", "line 2\n"], { status: "success" });
  assert.deepEqual(shownText(follows, all), { text: "line 0\nline 1 é\nline 2\n", ending: "# sweep-1: success" });
  assert.deepEqual(follows.followed, []);
  assert.equal(follows.take(all[0]), undefined, "nothing after done");
});

test("chunks out of order wait for the one before them; repeats and stale ones show nothing", () => {
  const follows = new LogFollows();
  follows.begin(answer("a\n"));
  const [one, two, three] = chunks(2, ["b\n", "c é\n", "d\n"], { status: "failed" });
  assert.equal(follows.take(three), undefined);
  assert.equal(follows.take(two), undefined);
  assert.deepEqual(follows.take(one), { entryId: "e1", name: "sweep-1", text: "b\nc é\nd\n", ending: "# sweep-1: failed" });
  assert.equal(follows.take(one), undefined);
});

test("a status change without text moves nothing and is not confused with the text at the same offset", () => {
  const [first, text] = chunks(0, ["abcd\n", "efgh\n"]);
  const change = { entryId: "e1", start: 5, text: "", offset: 5, status: "running", done: false, reason: "" };
  for (const order of [[text, change], [change, text]]) {
    const assembly = new LogAssembly("e1", "sweep-1", answer("", { status: "queued" }));
    for (const early of order) {
      assert.deepEqual(assembly.take(early), { text: "" }); // Both wait for `first`.
    }
    assert.deepEqual(assembly.take(first), { text: "abcd\nefgh\n" });
    assert.deepEqual([assembly.offset, assembly.status], [10, "running"]);
    assert.deepEqual(assembly.take(change), { text: "" });
  }
});

test("an answer that is done shows everything and its status line, and follows nothing", () => {
  const follows = new LogFollows();
  const shown = follows.begin(answer("all of it", { status: "success", done: true }));
  assert.deepEqual(shown, { entryId: "e1", name: "sweep-1", text: "all of it", ending: "\n# sweep-1: success" });
  assert.deepEqual(follows.followed, []);
});

test("following stopped early says why, on a line of its own", () => {
  const follows = new LogFollows();
  follows.begin(answer("half a line"));
  const [last] = chunks(11, [""], { status: "queued", reason: "the entry was removed from the queue" });
  assert.deepEqual(follows.take(last)?.ending,
    "\n# sweep-1: queued; stopped following: the entry was removed from the queue");
});

test("notifications that come before the answer are kept while it is asked, and used", () => {
  const follows = new LogFollows();
  const answered = follows.asking();
  const [early] = chunks(2, ["b\n"]);
  assert.equal(follows.take(early), undefined);
  assert.equal(follows.take({ ...early, entryId: "other" }), undefined);
  assert.deepEqual(follows.begin(answer("a\n")).text, "a\nb\n");
  answered();
  answered(); // Called twice: counted once.
  // Not asking any more: a notification for an entry nobody follows is dropped.
  assert.equal(follows.take({ ...early, entryId: "other" }), undefined);
  const again = new LogFollows();
  again.begin({ ...answer("x"), entryId: "other" });
  assert.equal(again.take({ ...early, entryId: "other", start: 1 })?.text, "b\n");
});

test("an entry is found by name or id, forgotten when it ends, and all are handed back when the helper stops", () => {
  const follows = new LogFollows();
  follows.begin(answer("a\n"));
  follows.begin({ ...answer("b\n"), entryId: "e2", name: "sweep-2" });
  assert.equal(follows.find("sweep-2")?.entryId, "e2");
  assert.equal(follows.find("e1")?.name, "sweep-1");
  assert.equal(follows.find("nope"), undefined);
  assert.ok(follows.end("e2"));
  assert.ok(!follows.end("e2"));
  assert.deepEqual(follows.endAll().map((a) => [a.entryId, a.offset]), [["e1", 2]]);
  assert.deepEqual(follows.followed, []);
});

test("following the same entry again starts over from the new answer", () => {
  const follows = new LogFollows();
  follows.begin(answer("a\n"));
  follows.take(chunks(2, ["b\n"])[0]);
  assert.equal(follows.begin(answer("a\nb\n")).text, "a\nb\n");
  assert.equal(follows.find("e1")?.offset, 4);
});
