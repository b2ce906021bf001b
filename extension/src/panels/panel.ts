// What every xp webview panel shares. One panel of each kind (OnePanel: show() reuses it, the
// serializer's revive() puts the panel VS Code restored after a reload in its place). Panel: the
// page made by page.ts, the page's messages parsed before the panel sees them (messages.ts: a page
// is not trusted) and the extension's typed, and all it listens to disposed with it. AnswerPanel
// (Compare, Plots): the helper's answer for what is shown, loaded one at a time and kept, so that a
// page which says it is ready after the answer came gets it at once rather than asking again.
import * as vscode from "vscode";
import { Coalesced } from "../coalesce";
import type { ReadyMessage } from "./messages";
import { type PageContent, page, panelOptions, readyLine } from "./page";

/** The one open panel of a kind (each panel class keeps one of these). */
export class OnePanel<T extends { dispose(): void }> {
  current: T | undefined;

  constructor(private readonly viewType: string) {}

  /** The open panel, or a new one, titled `title`, in the active editor column. */
  open(title: string, extensionUri: vscode.Uri, make: (panel: vscode.WebviewPanel) => T): T {
    this.current ??= make(vscode.window.createWebviewPanel(this.viewType, title, vscode.ViewColumn.Active, panelOptions(extensionUri)));
    return this.current;
  }

  /** The panel VS Code kept across a reload, in place of any open one. */
  revive(panel: vscode.WebviewPanel, make: (panel: vscode.WebviewPanel) => T): T {
    this.current?.dispose();
    this.current = make(panel);
    return this.current;
  }

  /** Forgets `panel` if it is the open one (it was closed). */
  forget(panel: unknown): void {
    if (this.current === panel) {
      this.current = undefined;
    }
  }
}

/** A webview panel whose page sends `P` (parsed from what arrives) and is sent `H`. */
export abstract class Panel<P, H> {
  private readonly disposables: vscode.Disposable[] = [];
  /** When this panel object (and its page) was made, epoch ms: the page's timings are logged against it. */
  protected readonly opened = Date.now();

  protected constructor(protected readonly panel: vscode.WebviewPanel, private readonly one: OnePanel<Panel<P, H>>,
    extensionUri: vscode.Uri, protected readonly output: vscode.OutputChannel, content: PageContent,
    parse: (message: unknown) => P | undefined) {
    panel.webview.options = panelOptions(extensionUri);
    panel.webview.html = page(panel.webview, extensionUri, content);
    this.listen(
      panel.onDidDispose(() => this.dispose()),
      panel.webview.onDidReceiveMessage((message: unknown) => {
        // What the parser does not know (or finds malformed) is dropped here.
        const parsed = parse(message);
        if (parsed !== undefined) {
          void this.onMessage(parsed);
        }
      }),
    );
  }

  /** Acts on a message from the page, already checked. */
  protected abstract onMessage(message: P): void | Promise<void>;

  /** Disposes `disposables` (listeners) with the panel. */
  protected listen(...disposables: vscode.Disposable[]): void {
    this.disposables.push(...disposables);
  }

  /** Sends `message` to the page (lost if the page does not listen yet). */
  protected post(message: H): Thenable<boolean> {
    return this.panel.webview.postMessage(message);
  }

  dispose(): void {
    this.one.forget(this);
    this.panel.dispose();
    for (const d of this.disposables.splice(0)) {
      d.dispose();
    }
  }
}

/**
 * A panel showing the helper's answer for what it is asked (`key()`: the experiment names, and
 * for Plots its custom plots). One load at a time: calls during a load fold into one more after
 * it. The newest answer is kept with its key, so a page that says it is ready late (the first
 * one, or one VS Code made again) gets it at once; one being fetched is sent when it comes.
 */
export abstract class AnswerPanel<P, H> extends Panel<P, H> {
  /** The experiments shown (for Plots, none means HEAD and the workspace). */
  protected names: string[] = [];
  /** Whether the page has said it listens (messages posted before that are lost). */
  protected pageReady = false;
  /** The newest answer, with the key of what it answers. */
  private last: { key: string; message: H } | undefined;
  /** The key of the load in progress. */
  private fetching: string | undefined;
  private readonly loads = new Coalesced(() => this.fetchNow());

  /** What an answer answers: an answer kept for another key is not sent to a new page. */
  protected key(): string {
    return JSON.stringify(this.names);
  }

  /** Asks the helper for `key` and hands the answer to answer(); says itself why it failed. */
  protected abstract fetch(key: string): Promise<void>;

  /** Asks the helper again and sends the answer to the page; overlapping calls coalesce into one more. */
  protected load(): Promise<void> {
    return this.loads.run();
  }

  /** Shows `names` under `title`: brings the panel to the front and loads. */
  protected showNames(names: string[], title: string): void {
    this.names = names;
    this.panel.title = title;
    this.panel.reveal();
    void this.load();
  }

  /** Keeps the answer for `key` and sends it, if the page listens (else it goes when the page is ready). */
  protected answer(key: string, message: H): void {
    this.last = { key, message };
    if (this.pageReady) {
      this.send(message);
    }
  }

  /** Sends an answer to the page (Plots also notes that its charts on screen are not drawn yet). */
  protected send(message: H): void {
    void this.post(message);
  }

  /**
   * A new page (first open, or VS Code re-created it) is ready: logs where its first moments went
   * (as `label`), then sends the answer already fetched for what is shown; one being fetched is
   * sent when it comes; else asks.
   */
  protected ready(label: string, message: ReadyMessage): void {
    this.pageReady = true;
    this.output.appendLine(readyLine(label, this.opened, message));
    if (this.last?.key === this.key()) {
      this.send(this.last.message);
    } else if (this.fetching !== this.key()) {
      void this.load();
    }
  }

  private async fetchNow(): Promise<void> {
    const key = this.key();
    this.fetching = key;
    try {
      await this.fetch(key);
    } finally {
      this.fetching = undefined;
    }
  }
}
