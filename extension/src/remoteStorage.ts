// The remote-storage status-bar item: where Push and Pull on an experiment carry its outputs
// (`xp/listRemotes`). It is asked for when the helper (re)starts, when one of the config files
// changes, and after a push or pull; a click opens the config file that defines the remote.
import * as vscode from "vscode";
import { ErrorCodes, ResponseError } from "vscode-languageclient/node";
import { Coalesced } from "./coalesce";
import { type Helper, errorText } from "./helper";
import * as proto from "./protocol";
import { NO_CONFIG, type RemoteItem, brokenRemoteItem, remoteItem } from "./remoteModel";
import { plainMessage } from "./text";

/** The files remotes live in (DVC's, or xp's in a project without `.dvc/`), in the project folder. */
const CONFIG_FILES = "{.dvc/config,.dvc/config.local,.xpconfig,.xpconfig.local}";

export class RemoteStorageItem implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem("xp.remote", vscode.StatusBarAlignment.Left, 49);
  private readonly loads = new Coalesced(() => this.load());
  private readonly subscriptions: vscode.Disposable[];
  private watching: { dir: string; disposables: vscode.Disposable[] } | undefined;
  private shown: RemoteItem | undefined;

  constructor(private readonly helper: Helper) {
    this.item.name = "XP Remote Storage";
    this.item.command = "xp.openRemoteConfig";
    this.subscriptions = [
      helper.onDidChangeState((state) => {
        if (state === "running") {
          this.watch(helper.projectDir);
          this.refresh();
        } else {
          this.item.hide();
        }
      }),
    ];
  }

  /** Asks the helper again (a push or pull may have been refused for the config's sake). */
  refresh(): void {
    if (this.helper.state === "running") {
      void this.loads.run();
    }
  }

  /** The click: the config file in an editor, else what to do instead. */
  async open(): Promise<void> {
    const shown = this.shown;
    if (shown?.file) {
      try {
        await vscode.window.showTextDocument(vscode.Uri.file(shown.file));
        return;
      } catch {
        // Removed since the last answer: say what to do instead.
      }
    }
    void vscode.window.showInformationMessage(plainMessage(shown?.message ?? NO_CONFIG));
  }

  dispose(): void {
    this.subscriptions.forEach((s) => s.dispose());
    this.watching?.disposables.forEach((d) => d.dispose());
    this.item.dispose();
  }

  /** Watches the config files of the folder the helper serves (again only when that folder changed). */
  private watch(dir: vscode.Uri | undefined): void {
    if (dir?.toString() === this.watching?.dir) {
      return;
    }
    this.watching?.disposables.forEach((d) => d.dispose());
    this.watching = undefined;
    if (!dir) {
      return;
    }
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(dir, CONFIG_FILES));
    const changed = (): void => this.refresh();
    this.watching = {
      dir: dir.toString(),
      disposables: [watcher, watcher.onDidCreate(changed), watcher.onDidChange(changed), watcher.onDidDelete(changed)],
    };
  }

  private async load(): Promise<void> {
    let next: RemoteItem;
    try {
      next = remoteItem(await this.helper.request(proto.listRemotes, {}));
    } catch (error) {
      // A helper older than this request, or one that stopped meanwhile: no item rather than a false alarm.
      if ((error instanceof ResponseError && error.code === ErrorCodes.MethodNotFound) || this.helper.state !== "running") {
        this.item.hide();
        return;
      }
      next = brokenRemoteItem(errorText(error), this.shown?.file);
    }
    this.shown = next;
    this.item.text = next.text;
    this.item.tooltip = next.tooltip;
    this.item.backgroundColor = next.broken ? new vscode.ThemeColor("statusBarItem.warningBackground") : undefined;
    this.item.show();
  }
}
