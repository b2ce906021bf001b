// Long helper work (a run, the queue, push/pull) as a VS Code progress notification fed by the
// helper's `$/progress`. The token is made here and sent in the request (`workDoneToken`), so the
// notification can be opened before the helper answers and can offer Cancel, which becomes
// `window/workDoneProgress/cancel`. (Progress the helper creates itself, through
// `window/workDoneProgress/create`, is shown by vscode-languageclient in the status bar; the
// client advertises `window.workDoneProgress` for that.)
import * as vscode from "vscode";
import type { Helper } from "./helper";
import { plainMessage } from "./text";

let counter = 0;

/** What the notification does besides showing the helper's lines. */
export interface ProgressOptions {
  /** The notification's title. */
  title: string;
  /** Offer Cancel (only where the helper stops the work on a cancel). */
  cancellable: boolean;
  /**
   * Keep the notification after the helper answered, until its progress ends (runs and the
   * queue answer at once and go on working); otherwise it closes with the answer.
   */
  untilEnd: boolean;
}

/**
 * Sends a request through `send(token)` with a fresh progress token and shows its `$/progress` in
 * a notification. Resolves (or rejects) with the request's answer, not with the end of the work.
 */
export function withHelperProgress<R>(helper: Helper, options: ProgressOptions,
  send: (token: string) => Promise<R>): Promise<R> {
  const token = `xp-${process.pid}-${++counter}`;
  let settle: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    settle = resolve;
  });
  let shown = 0;
  const subscriptions: vscode.Disposable[] = [
    helper.onProgress(token, (value) => {
      if (value.kind === "end") {
        if (value.message) {
          vscode.window.setStatusBarMessage(plainMessage(`XP: ${value.message}`), 8000);
        }
        settle();
      } else if (value.message) {
        // VS Code's bar moves by increments; the helper says how far along it is (a transfer's count).
        // A new percentage below the last (the next transfer of the same work) starts the bar again.
        const percentage = "percentage" in value && typeof value.percentage === "number" ? value.percentage : undefined;
        let increment: number | undefined;
        if (percentage !== undefined) {
          increment = percentage >= shown ? percentage - shown : undefined;
          shown = percentage;
        }
        report?.({ message: plainMessage(value.message), increment });
      }
    }),
    // A helper that stops or restarts will never end this progress.
    helper.onDidChangeState((state) => state !== "running" && settle()),
  ];
  let report: ((value: { message: string; increment?: number }) => void) | undefined;
  const answer = send(token);
  void vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: plainMessage(options.title), cancellable: options.cancellable },
    async (progress, cancel) => {
      report = (value) => progress.report(value);
      cancel.onCancellationRequested(() => helper.cancelProgress(token));
      answer.then(() => !options.untilEnd && settle(), () => settle());
      await finished;
    },
  ).then(() => subscriptions.forEach((s) => s.dispose()));
  return answer;
}
