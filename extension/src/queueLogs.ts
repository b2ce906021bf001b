// XP: Show Queue Entry Log: one output channel per queue entry, filled with what the helper pushes
// (`xp/followQueueLog` answers with the log so far, `xp/queueLogUpdated` brings the rest) until the
// entry finishes. Nothing polls; queueLogModel.ts puts the pieces in order.
import * as vscode from "vscode";
import { type Helper, errorText } from "./helper";
import * as proto from "./protocol";
import { LogFollows, type LogShown } from "./queueLogModel";
import type { HelperState } from "./queueModel";

/** An entry that was followed when the helper stopped: followed again, from where it was, once the helper runs. */
interface Interrupted {
  entryId: string;
  name: string;
  offset: number;
}

export class QueueLogs implements vscode.Disposable {
  private readonly follows = new LogFollows();
  private readonly channels = new Map<string, vscode.OutputChannel>();
  private interrupted: Interrupted[] = [];
  private readonly listeners: vscode.Disposable[];

  constructor(private readonly helper: Helper) {
    this.listeners = [
      helper.onQueueLog((chunk) => {
        const shown = this.follows.take(chunk);
        if (shown) {
          this.show(shown);
        }
      }),
      helper.onDidChangeState((state) => this.helperChanged(state)),
    ];
  }

  /** Shows the log of the entry (its name or id) in its own channel; the helper pushes the rest until it finishes. */
  async open(entry: string): Promise<void> {
    const followed = this.follows.find(entry);
    const channel = followed && this.channels.get(followed.entryId);
    if (channel) {
      channel.show(true);
      return;
    }
    await this.follow(entry, 0, true);
  }

  /** Asks the helper to follow the entry from `offset`; `fresh`: the channel starts over and is shown. */
  private async follow(entry: string, offset: number, fresh: boolean): Promise<void> {
    const answered = this.follows.asking();
    try {
      const answer = await this.helper.request(proto.followQueueLog, { entry, offset });
      const channel = this.channel(answer.entryId, answer.name);
      if (fresh) {
        channel.clear();
        channel.show(true);
      }
      this.show(this.follows.begin(answer));
    } finally {
      answered();
    }
  }

  private show(shown: LogShown): void {
    const channel = this.channel(shown.entryId, shown.name);
    if (shown.text) {
      channel.append(shown.text);
    }
    if (shown.ending !== undefined) {
      channel.appendLine(shown.ending);
    }
  }

  private channel(entryId: string, name: string): vscode.OutputChannel {
    let channel = this.channels.get(entryId);
    if (!channel) {
      channel = vscode.window.createOutputChannel(`XP Queue: ${name}`);
      this.channels.set(entryId, channel);
    }
    return channel;
  }

  /** A stopped helper follows nothing: what was followed is followed again, from where it was, once it runs. */
  private helperChanged(state: HelperState): void {
    if (state !== "running") {
      for (const followed of this.follows.endAll()) {
        this.interrupted.push({ entryId: followed.entryId, name: followed.name, offset: followed.offset });
      }
      return;
    }
    const again = this.interrupted;
    this.interrupted = [];
    for (const { entryId, name, offset } of again) {
      this.follow(entryId, offset, false).catch((error: unknown) => {
        this.channels.get(entryId)?.appendLine(`\n# ${name}: the log cannot be followed any more: ${errorText(error)}`);
      });
    }
  }

  /** Stops following every entry (the helper is told) and closes the channels. */
  dispose(): void {
    for (const entryId of this.follows.followed) {
      this.helper.request(proto.unfollowQueueLog, { entryId }).catch(() => undefined);
    }
    this.follows.endAll();
    this.interrupted = [];
    for (const disposable of [...this.listeners, ...this.channels.values()]) {
      disposable.dispose();
    }
    this.channels.clear();
  }
}
