// The HTML shell every xp webview panel uses: a `default-src 'none'` content security policy, a
// fresh nonce from crypto for each page, and scripts only from files in the bundle's webview
// folder (dist/webview), loaded through asWebviewUri. Helper data never goes into this HTML: it
// is posted to the page as a message and drawn with textContent (or as SVG text by Vega).
import { randomBytes } from "node:crypto";
import * as vscode from "vscode";

/** The only folder a panel may load from. */
export function webviewRoot(extensionUri: vscode.Uri): vscode.Uri {
  return vscode.Uri.joinPath(extensionUri, "extension", "dist", "webview");
}

/** The options every panel is created with. */
export function panelOptions(extensionUri: vscode.Uri): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return { enableScripts: true, localResourceRoots: [webviewRoot(extensionUri)] };
}

/** A page loading `scripts` (file names in dist/webview) in order, with `style` and `body`. */
export function page(webview: vscode.Webview, extensionUri: vscode.Uri, options: { scripts: string[]; style: string; body: string }): string {
  const nonce = randomBytes(16).toString("base64");
  const csp = [`default-src 'none'`, `style-src 'nonce-${nonce}'`, `script-src 'nonce-${nonce}'`, `img-src data: blob:`].join("; ");
  const scripts = options.scripts.map((name) =>
    `<script nonce="${nonce}" src="${webview.asWebviewUri(vscode.Uri.joinPath(webviewRoot(extensionUri), name))}"></script>`);
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
