// One load at a time: calls made while a load runs are folded into one more load after it. Views
// reload on every change notification, and notifications can come faster than a load takes.
// Pure (no `vscode` import), so it is unit-tested without an editor.

export class Coalesced {
  private running: Promise<void> | undefined;
  private again = false;

  constructor(private readonly work: () => Promise<void>) {}

  /** Starts the work, or asks for one more run after the current one; resolves when the current run ends. */
  run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.work().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        void this.run();
      }
    });
    return this.running;
  }
}
