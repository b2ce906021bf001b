// The HTML shell every xp webview panel uses: a `default-src 'none'` content security policy, a
// fresh nonce from crypto for each page, and scripts only from files in the bundle's webview
// folder (dist/webview). The scripts are inlined into the page under the nonce rather than loaded
// through asWebviewUri: each file a webview loads is fetched through VS Code's webview service
// worker, the workbench and (in code-server) the server, so inline the page needs no request after
// its HTML. (Most of a new panel's first second is not that, though: the page's navigation timing
// shows its document waiting ~1 s for the service worker VS Code installs for each new webview.)
// Helper data never goes into this HTML: it is posted to the page as a message and drawn with
// textContent (or as SVG/canvas text by Vega).
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import * as vscode from "vscode";
import type { ReadyMessage } from "./messages";

/** The only folder a panel may load from. */
export function webviewRoot(extensionUri: vscode.Uri): vscode.Uri {
  return vscode.Uri.joinPath(extensionUri, "extension", "dist", "webview");
}

/**
 * The options every panel is created with. A hidden panel keeps its page: otherwise VS Code
 * destroys it when another tab comes to the front and makes a new one on the way back — a new
 * webview's ~1 s wait for VS Code's service worker, then every chart or row drawn again.
 */
export function panelOptions(extensionUri: vscode.Uri): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return { enableScripts: true, localResourceRoots: [webviewRoot(extensionUri)], retainContextWhenHidden: true };
}

/** Script files read once per window (they only change when the extension is rebuilt and reloaded). */
const scriptTexts = new Map<string, string>();

/** A script file of dist/webview as an inline `<script>` under `nonce`, or by URI when inlining it would be unsafe. */
function scriptTag(webview: vscode.Webview, extensionUri: vscode.Uri, name: string, nonce: string): string {
  const file = vscode.Uri.joinPath(webviewRoot(extensionUri), name);
  let text = scriptTexts.get(file.fsPath);
  if (text === undefined) {
    text = readFileSync(file.fsPath, "utf8");
    scriptTexts.set(file.fsPath, text);
  }
  // Inside <script>, "</script" (any case) ends the element and "<!--" changes how it is parsed.
  if (/<\/script|<!--/i.test(text)) {
    return `<script nonce="${nonce}" src="${webview.asWebviewUri(file)}"></script>`;
  }
  return `<script nonce="${nonce}">${text}</script>`;
}

/** What a panel's page is made of: `scripts` (file names in dist/webview, run in order), its `style` and `body`. */
export interface PageContent {
  scripts: string[];
  style: string;
  body: string;
}

/** A page running `options.scripts` in order, with its style and body. */
export function page(webview: vscode.Webview, extensionUri: vscode.Uri, options: PageContent): string {
  const nonce = randomBytes(16).toString("base64");
  const csp = [`default-src 'none'`, `style-src 'nonce-${nonce}'`, `script-src 'nonce-${nonce}'`, `img-src data: blob:`].join("; ");
  const scripts = options.scripts.map((name) => scriptTag(webview, extensionUri, name, nonce));
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style nonce="${nonce}">${options.style}</style></head>
<body>
${options.body}
${scripts.join("\n")}
</body></html>`;
}

/** A page's "ready" message (webview/dom.ts readyMessage) as a log line: where its first moments went. */
export function readyLine(panel: string, made: number, message: ReadyMessage): string {
  const at = (t?: number) => (t !== undefined ? `+${(t - made).toFixed(0)} ms` : "?");
  return `${panel} page ready ${Date.now() - made} ms after the panel was made (its document began at ${at(message.began)}, ` +
    `its script ran at ${at(message.scriptRan)}; document timing: ${message.nav ?? "?"}).`;
}
