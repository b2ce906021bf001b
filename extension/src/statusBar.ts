// The status-bar item: the helper's state and the queue's running/queued counts (from
// `xp/queueChanged`, no request needed); a click shows the Queue view.
import * as vscode from "vscode";
import type { Helper } from "./helper";
import { statusBarText } from "./queueModel";

const TOOLTIPS: Record<string, string> = {
  starting: "XP: starting the helper",
  running: "XP: helper running — click to show the queue",
  stopped: "XP: the helper stopped — run XP: Restart Helper",
  noFolder: "XP: open a folder",
  noRepo: "XP: this folder is not a git repository",
  noPipeline: "XP: this repository has no dvc.yaml",
  noPython: "XP: no Python interpreter found — set xp.python.interpreterPath",
  helperMissing: "XP: the helper is not installed in the interpreter — run XP: Install xp Helper (or see XP: Show Helper Log)",
  helperTooOld: "XP: the helper is too old for this extension — run XP: Install xp Helper",
};

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem("xp.status", vscode.StatusBarAlignment.Left, 50);
  private counts = { running: 0, queued: 0 };
  private readonly subscriptions: vscode.Disposable[];

  constructor(private readonly helper: Helper, counted: vscode.Event<{ running: number; queued: number }>) {
    this.item.name = "XP";
    this.item.command = "xp.showQueue";
    this.subscriptions = [
      helper.onDidChangeState(() => this.draw()),
      // Counts come with every xp/queueChanged, and from each Queue load (the first one included).
      helper.onQueueChanged((counts) => this.setCounts(counts)),
      counted((counts) => this.setCounts(counts)),
    ];
    this.draw();
    this.item.show();
  }

  dispose(): void {
    this.subscriptions.forEach((s) => s.dispose());
    this.item.dispose();
  }

  private setCounts(counts: { running: number; queued: number }): void {
    this.counts = counts;
    this.draw();
  }

  private draw(): void {
    const state = this.helper.state;
    this.item.text = statusBarText(state, this.counts);
    this.item.tooltip = TOOLTIPS[state] ?? "XP";
    this.item.backgroundColor = state === "stopped" || state === "helperMissing" || state === "noPython"
      ? new vscode.ThemeColor("statusBarItem.warningBackground") : undefined;
  }
}
