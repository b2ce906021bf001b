// Builds the extension into one CommonJS bundle (extension/dist/main.js; `vscode` is provided by
// the editor, so it stays external), or with --unit the unit tests into extension/out/unit/ so
// that `node --test` runs them without VS Code. --watch rebuilds the bundle on every change.
import * as esbuild from "esbuild";
import { copyFileSync, mkdirSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const args = new Set(process.argv.slice(2));

const common = {
  bundle: true,
  platform: "node",
  target: "node18",
  format: "cjs",
  logLevel: "warning",
};

if (args.has("--unit")) {
  const dir = join(here, "test", "unit");
  const entryPoints = readdirSync(dir).filter((f) => f.endsWith(".test.ts")).map((f) => join(dir, f));
  // The unit tests cover only modules that never import `vscode`; marking it external makes an
  // accidental import fail loudly at run time instead of being bundled.
  await esbuild.build({ ...common, entryPoints, outdir: join(here, "out", "unit"), external: ["vscode"], sourcemap: "inline" });
} else {
  const options = {
    ...common,
    entryPoints: [join(here, "src", "main.ts")],
    outfile: join(here, "dist", "main.js"),
    external: ["vscode"],
    minify: !args.has("--watch"),
    sourcemap: "linked",
    metafile: true,
  };
  // The webview pages' scripts: browser bundles loaded by the panels through asWebviewUri.
  const webview = {
    ...common,
    platform: "browser",
    format: "iife",
    target: "es2022",
    entryPoints: [join(here, "src", "webview", "compare.ts"), join(here, "src", "webview", "plots.ts"),
      join(here, "src", "webview", "table.ts")],
    outdir: join(here, "dist", "webview"),
    minify: !args.has("--watch"),
  };
  if (args.has("--watch")) {
    await (await esbuild.context(webview)).watch();
    const context = await esbuild.context(options);
    await context.watch();
  } else {
    await esbuild.build(options);
    await esbuild.build(webview);
  }
  // The vendored vega scripts (pyhelper/plots_assets/, from the npm registry) go next to plots.js:
  // a webview may load only from dist/webview.
  mkdirSync(join(here, "dist", "webview"), { recursive: true });
  for (const name of ["vega", "vega-lite", "vega-interpreter", "vega-embed"]) {
    copyFileSync(join(here, "..", "pyhelper", "plots_assets", `${name}.min.js`), join(here, "dist", "webview", `${name}.min.js`));
  }
}
