// Followed queue logs as plain data: the helper answers `xp/followQueueLog` with the log so far and pushes
// the rest as `xp/queueLogUpdated`; this puts those pieces in order by byte offset and says what an output
// channel shows. Pure: no `vscode` import.
import type { FollowQueueLogResult, QueueLogUpdatedParams } from "./protocol";

/** What to show for one followed entry: text to append, and once following ended, its last line. */
export interface LogShown {
  entryId: string;
  name: string;
  text: string;
  /** Set when following ended: a line saying how (`# name: success`), to append after `text`. */
  ending?: string;
}

/** Chunks held back at most, waiting for one before them (the helper sends them in order; this is a bound). */
const MAX_HELD = 64;

/** One followed entry's log: each chunk is shown once, in order, whatever order it came in. */
export class LogAssembly {
  /** The byte offset after what was shown. */
  offset: number;
  /** True once a chunk with `done` was shown: nothing more comes. */
  finished = false;
  /** The status the helper said last. */
  status: string;
  private readonly held = new Map<number, QueueLogUpdatedParams>();
  private endsLine: boolean;

  constructor(readonly entryId: string, readonly name: string, answer: FollowQueueLogResult) {
    this.offset = answer.offset;
    this.status = answer.status;
    this.endsLine = answer.text === "" || answer.text.endsWith("\n");
    if (answer.done) {
      this.finished = true;
    }
  }

  /** The last line for an answer that was `done` already (undefined while more comes). */
  endingOfAnswer(): string | undefined {
    return this.finished ? this.ending(this.status, "") : undefined;
  }

  /**
   * What `chunk` lets us show now: its text if it is next in line (and the held chunks it makes next), nothing
   * for a chunk already shown (a repeat, or an older follower's) or one that must wait for an earlier chunk.
   */
  take(chunk: QueueLogUpdatedParams): { text: string; ending?: string } {
    if (this.finished || chunk.start < this.offset) {
      return { text: "" };
    }
    if (chunk.start > this.offset) {
      // A status change (no text) and the text after it may start at the same offset: keep the one that goes further.
      const other = this.held.get(chunk.start);
      if ((other || this.held.size < MAX_HELD) && (!other || chunk.offset > other.offset || chunk.done)) {
        this.held.set(chunk.start, chunk);
      }
      return { text: "" };
    }
    let text = "";
    let next: QueueLogUpdatedParams | undefined = chunk;
    while (next && !this.finished) {
      this.held.delete(next.start);
      text += next.text;
      this.offset = next.offset;
      this.status = next.status;
      if (next.text) {
        this.endsLine = next.text.endsWith("\n");
      }
      if (next.done) {
        this.finished = true;
        this.held.clear();
        return { text, ending: this.ending(next.status, next.reason) };
      }
      next = this.held.get(this.offset);
    }
    return { text };
  }

  /** `# name: status`, and why following stopped when it stopped early; on a line of its own. */
  private ending(status: string, reason: string): string {
    const line = `# ${this.name}: ${status}${reason ? `; stopped following: ${reason}` : ""}`;
    return this.endsLine ? line : `\n${line}`;
  }
}

/**
 * Every followed entry of one helper. Notifications for an entry whose follow is still being answered are
 * kept until the answer comes (the helper answers first, but nothing here depends on it).
 */
export class LogFollows {
  private readonly byEntry = new Map<string, LogAssembly>();
  private early: QueueLogUpdatedParams[] = [];
  private asked = 0;

  /** A follow request goes out; call the function returned once it was answered or failed. */
  asking(): () => void {
    this.asked++;
    let called = false;
    return () => {
      if (!called) {
        called = true;
        this.asked--;
        if (this.asked === 0) {
          this.early = [];
        }
      }
    };
  }

  /** The helper's answer to a follow: the entry's log starts over from it (an earlier follow of it is replaced). */
  begin(answer: FollowQueueLogResult): LogShown {
    const assembly = new LogAssembly(answer.entryId, answer.name, answer);
    const shown: LogShown = { entryId: answer.entryId, name: answer.name, text: answer.text,
      ending: assembly.endingOfAnswer() };
    if (assembly.finished) {
      this.byEntry.delete(answer.entryId);
      return shown;
    }
    this.byEntry.set(answer.entryId, assembly);
    const early = this.early.filter((c) => c.entryId === answer.entryId);
    this.early = this.early.filter((c) => c.entryId !== answer.entryId);
    for (const chunk of early) {
      const more = this.take(chunk);
      if (more) {
        shown.text += more.text;
        shown.ending = more.ending;
      }
    }
    return shown;
  }

  /** A notification: what to show (undefined when the entry is not followed, or nothing is new). */
  take(chunk: QueueLogUpdatedParams): LogShown | undefined {
    const assembly = this.byEntry.get(chunk.entryId);
    if (!assembly) {
      if (this.asked > 0 && this.early.length < MAX_HELD) {
        this.early.push(chunk);
      }
      return undefined;
    }
    const { text, ending } = assembly.take(chunk);
    if (assembly.finished) {
      this.byEntry.delete(chunk.entryId);
    }
    return text || ending ? { entryId: chunk.entryId, name: assembly.name, text, ending } : undefined;
  }

  /** The followed entry named `nameOrId` (by its name or id), if any. */
  find(nameOrId: string): LogAssembly | undefined {
    return this.byEntry.get(nameOrId) ?? [...this.byEntry.values()].find((a) => a.name === nameOrId);
  }

  /** Forgets an entry (unfollowed); true when it was followed. */
  end(entryId: string): boolean {
    return this.byEntry.delete(entryId);
  }

  /** Every followed entry, forgotten (the helper stopped): what they were, to follow again from `offset`. */
  endAll(): LogAssembly[] {
    const all = [...this.byEntry.values()];
    this.byEntry.clear();
    this.early = [];
    return all;
  }

  /** The ids of the entries followed now. */
  get followed(): string[] {
    return [...this.byEntry.keys()];
  }
}
