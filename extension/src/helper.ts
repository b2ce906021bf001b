// The xp helper as the extension sees it: a Python language server (`python -m pyhelper serve`)
// driven by vscode-languageclient over stdio. This module owns its life — finding the folder and
// the interpreter, starting, checking the protocol version, restarting a crashed helper a bounded
// number of times — and publishes its state, which views and the status bar draw.
import * as vscode from "vscode";
import {
  CloseAction,
  type CloseHandlerResult,
  ErrorAction,
  LanguageClient,
  type LanguageClientOptions,
  type RequestType,
  ResponseError,
  type ServerOptions,
  State,
  WorkDoneProgress,
  type WorkDoneProgressBegin,
  WorkDoneProgressCancelNotification,
  type WorkDoneProgressEnd,
  type WorkDoneProgressReport,
} from "vscode-languageclient/node";
import { maxRestarts } from "./config";
import * as proto from "./protocol";
import { type FolderFacts, chooseFolder, servedMessage } from "./projectFolder";
import { checkHelper, findInterpreter } from "./python";
import type { HelperState } from "./queueModel";

/**
 * A language client that logs its errors without popping notifications: XP tells the person what
 * went wrong once, with the way out (Restart Helper, Show Helper Log), instead of a cascade.
 */
class QuietLanguageClient extends LanguageClient {
  override error(message: string, data?: unknown, _showNotification?: boolean | "force"): void {
    super.error(message, data, false);
  }
}

/** One language client's life, as its close handler sees it. */
interface ClientLife {
  client: LanguageClient | undefined;
  /** True once this client reached Running (so its crashes count as crashes during use). */
  ran: boolean;
}

/** Where the folder chosen with XP: Select Project Folder is remembered (workspace state). */
const CHOSEN_FOLDER_KEY = "xp.projectFolder";

/** The window in which crashes are counted against `xp.helper.maxRestarts`. */
const CRASH_WINDOW_MS = 3 * 60 * 1000;

export class Helper implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private current: HelperState = "starting";
  private crashes: number[] = [];
  private readonly offered = new Set<string>();
  private readonly toldFolder = new Set<string>();
  private lifecycle: Promise<void> = Promise.resolve();
  private readonly stateEmitter = new vscode.EventEmitter<HelperState>();
  private readonly experimentsEmitter = new vscode.EventEmitter<{ baselines: string[] }>();
  private readonly queueEmitter = new vscode.EventEmitter<{ running: number; queued: number }>();
  private readonly liveEmitter = new vscode.EventEmitter<proto.LiveMetricsUpdatedParams>();
  private readonly queueLogEmitter = new vscode.EventEmitter<proto.QueueLogUpdatedParams>();

  /** Fires on every state change (after the context key `xp.state` is set). */
  readonly onDidChangeState = this.stateEmitter.event;
  /** Fires on `xp/experimentsChanged` and when a (re)started helper is ready. */
  readonly onExperimentsChanged = this.experimentsEmitter.event;
  /** Fires on `xp/queueChanged` and when a (re)started helper is ready (counts unknown = -1). */
  readonly onQueueChanged = this.queueEmitter.event;
  /** Fires on `xp/liveMetricsUpdated`: a running experiment logged a new step. */
  readonly onLiveMetrics = this.liveEmitter.event;
  /** Fires on `xp/queueLogUpdated`: a followed queue entry's log grew, or its status changed. */
  readonly onQueueLog = this.queueLogEmitter.event;
  /** The project folder the helper serves, once one was found. */
  folder: vscode.WorkspaceFolder | undefined;
  /** The folder the helper runs in: the workspace folder, or a DVC project inside it (a monorepo's `--subdir` one). */
  projectDir: vscode.Uri | undefined;
  /** The interpreter that runs the helper, once one was found. */
  python: string | undefined;

  /** `memento` (the workspace state) remembers the folder chosen with XP: Select Project Folder. */
  constructor(private readonly output: vscode.OutputChannel, private readonly memento?: vscode.Memento) {}

  get state(): HelperState {
    return this.current;
  }

  /** Finds the project and the interpreter and starts the helper; never throws (the state says what went wrong). */
  start(): Promise<void> {
    return this.serially(() => this.doStart());
  }

  /** Stops the helper (if running) and starts it again, forgetting earlier crashes. */
  restart(): Promise<void> {
    return this.serially(async () => {
      this.crashes = [];
      await this.stopClient();
      await this.doStart();
    });
  }

  /** Runs starts and restarts one after the other, so two clients never run at once. */
  private serially(work: () => Promise<void>): Promise<void> {
    const next = this.lifecycle.then(work, work);
    this.lifecycle = next.catch(() => undefined);
    return next;
  }

  private async doStart(): Promise<void> {
    const started = performance.now();
    this.setState("starting");
    const found = await this.findProjectFolder();
    if (!found) {
      return;
    }
    const { folder, dir } = found;
    this.folder = folder;
    this.projectDir = dir;
    const interpreter = await findInterpreter(folder);
    this.python = interpreter.command;
    this.output.appendLine(`Python: ${interpreter.command} (from ${interpreter.source})`);
    const check = await checkHelper(interpreter.command, dir.fsPath);
    if (!check.ok) {
      this.output.appendLine(check.detail);
      this.setState(check.reason);
      if (check.reason !== "noPython") {
        this.offerInstall(check.reason, interpreter.command);
      }
      return;
    }
    this.output.appendLine(`Starting the xp helper ${check.version} in ${dir.fsPath}`);
    // A helper that dies while starting is started again a bounded number of times, with a pause.
    const limit = maxRestarts();
    let client: LanguageClient;
    for (let attempt = 0; ; attempt++) {
      client = this.createClient(interpreter.command, folder, dir);
      this.client = client;
      try {
        await client.start();
        // start() can resolve although initialize failed (the client then sits in "startFailed").
        if (!client.isRunning()) {
          throw new Error("the helper exited while starting (its errors are above)");
        }
        break;
      } catch (error) {
        this.output.appendLine(`The helper did not start: ${errorText(error)}`);
        await this.stopClient();
        if (attempt >= limit) {
          this.giveUp(attempt + 1);
          return;
        }
        this.output.appendLine(`Starting it again (${attempt + 1} of ${limit}).`);
        await new Promise((resolve) => setTimeout(resolve, 300 * (attempt + 1)));
      }
    }
    const version = (client.initializeResult?.capabilities.experimental as { xpProtocolVersion?: unknown } | undefined)
      ?.xpProtocolVersion;
    if (typeof version !== "number" || version < proto.PROTOCOL_VERSION) {
      this.output.appendLine(`The helper speaks xp protocol ${String(version)}; this extension needs ` +
        `${proto.PROTOCOL_VERSION} or later. Upgrade it: pip install -U xp-experiments`);
      await this.stopClient();
      this.setState("helperTooOld");
      return;
    }
    this.output.appendLine(`The helper is ready (${(performance.now() - started).toFixed(0)} ms after start).`);
    this.setState("running");
  }

  /**
   * Sends a custom request. A helper that is (re)starting is waited for (up to 30 s), so a command
   * given during a restart still runs; otherwise rejects with a one-line message.
   */
  async request<P, R>(type: RequestType<P, R, void>, params: P): Promise<R> {
    if (this.current === "starting") {
      await this.settled(30_000);
    }
    if (!this.client || this.current !== "running") {
      throw new Error("The xp helper is not running — see XP: Show Helper Log, then XP: Restart Helper.");
    }
    return this.client.sendRequest(type, params);
  }

  /** Receives the helper's `$/progress` for `token` (made by this side and sent in a request). */
  onProgress(token: string, handler: (value: WorkDoneProgressBegin | WorkDoneProgressReport | WorkDoneProgressEnd) => void):
    vscode.Disposable {
    const client = this.client;
    if (!client) {
      return new vscode.Disposable(() => undefined);
    }
    return client.onProgress(WorkDoneProgress.type, token, handler);
  }

  /** Asks the helper to stop the work reporting through `token` (the progress's Cancel). */
  cancelProgress(token: string): void {
    void this.client?.sendNotification(WorkDoneProgressCancelNotification.type, { token });
  }

  /** Resolves when the state leaves "starting" (or after `ms`). */
  private settled(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const listener = this.stateEmitter.event((state) => state !== "starting" && done());
      function done(): void {
        clearTimeout(timer);
        listener.dispose();
        resolve();
      }
    });
  }

  dispose(): void {
    void this.stopClient();
    this.stateEmitter.dispose();
    this.experimentsEmitter.dispose();
    this.queueEmitter.dispose();
    this.liveEmitter.dispose();
    this.queueLogEmitter.dispose();
  }

  /** Each open folder with whether it is a git repository and has a pipeline, followed by the DVC projects
   * inside it (folders with their own `.dvc/`, as `dvc init --subdir` makes them in a monorepo). */
  async folderFacts(): Promise<{ folder: vscode.WorkspaceFolder; dir: vscode.Uri; facts: FolderFacts }[]> {
    const found = await Promise.all((vscode.workspace.workspaceFolders ?? []).map(async (folder) => {
      const git = await exists(vscode.Uri.joinPath(folder.uri, ".git"));
      const subs = git ? await subProjects(folder.uri) : [];
      // The folder is a project itself when its own dvc.yaml or .dvc/ is there, or (no nested projects)
      // when a pipeline lives in one of its subfolders.
      const own = await exists(vscode.Uri.joinPath(folder.uri, "dvc.yaml")) ||
        await exists(vscode.Uri.joinPath(folder.uri, ".dvc"));
      const pipeline = own || (!subs.length && (await vscode.workspace.findFiles(
        new vscode.RelativePattern(folder, "**/dvc.yaml"), "**/{node_modules,.git,.xp,.venv}/**", 1)).length > 0);
      return [
        { folder, dir: folder.uri, facts: { name: folder.name, uri: folder.uri.toString(), git, pipeline } },
        ...subs.map((rel) => {
          const dir = vscode.Uri.joinPath(folder.uri, ...rel.split("/"));
          return { folder, dir, facts: { name: `${folder.name}/${rel}`, uri: dir.toString(), git: true, pipeline: true } };
        }),
      ];
    }));
    return found.flat();
  }

  /** Remembers the folder to serve (XP: Select Project Folder) and starts the helper there. */
  async selectFolder(uri: string): Promise<void> {
    await this.memento?.update(CHOSEN_FOLDER_KEY, uri);
    await this.restart();
  }

  private async findProjectFolder(): Promise<{ folder: vscode.WorkspaceFolder; dir: vscode.Uri } | undefined> {
    // One helper serves one project (projectFolder.ts says which).
    const all = await this.folderFacts();
    const choice = chooseFolder(all.map((a) => a.facts), this.memento?.get<string>(CHOSEN_FOLDER_KEY));
    const entry = all.find((a) => a.facts === choice.folder);
    this.folder = entry?.folder;
    this.projectDir = entry?.dir;
    if (!choice.ok) {
      this.output.appendLine(`No project to serve (${choice.why}) among ${all.length} open folder(s)` +
        `${choice.folder ? `; the first is ${choice.folder.name}` : ""}.`);
      this.setState(choice.why);
      return undefined;
    }
    const facts = choice.folder;
    if (all.length > 1) {
      const message = servedMessage(facts, all.length);
      this.output.appendLine(message);
      if (!this.toldFolder.has(facts.uri)) {
        this.toldFolder.add(facts.uri);
        void vscode.window.showInformationMessage(message, "Select Project Folder")
          .then((picked) => picked && vscode.commands.executeCommand("xp.selectProjectFolder"));
      }
    }
    return entry ? { folder: entry.folder, dir: entry.dir } : undefined;
  }

  private createClient(python: string, folder: vscode.WorkspaceFolder, dir: vscode.Uri): LanguageClient {
    // What the close handler needs to know about this client (it is made before the client is).
    const life: ClientLife = { client: undefined, ran: false };
    const serverOptions: ServerOptions = {
      command: python,
      args: ["-m", "pyhelper", "serve"],
      // No `transport`: TransportKind.stdio would append `--stdio`, which `xp serve` does not take;
      // without it the client still talks over the process's stdin/stdout.
      options: { cwd: dir.fsPath, env: { ...process.env, PYTHONUNBUFFERED: "1" } },
    };
    const clientOptions: LanguageClientOptions = {
      // The helper answers for params and pipeline files (YAML); it ignores other YAML.
      documentSelector: [{ scheme: "file", language: "yaml" }],
      workspaceFolder: folder,
      outputChannel: this.output,
      // Errors are shown once, by the command that got them; the client must not pop its own.
      revealOutputChannelOn: 4 /* RevealOutputChannelOn.Never */,
      // Returning false gives the start up (doStart retries) instead of the client's own pop-up.
      initializationFailedHandler: (error) => {
        this.output.appendLine(`The helper failed to initialize: ${errorText(error)}`);
        return false;
      },
      errorHandler: {
        // handled: the client logs these but pops no notification of its own (we say it once).
        error: () => ({ action: ErrorAction.Continue, handled: true }),
        closed: () => this.closed(life),
      },
    };
    const client = new QuietLanguageClient("xp", "XP Helper", serverOptions, clientOptions);
    life.client = client;
    client.onNotification(proto.experimentsChanged, (params) => this.experimentsEmitter.fire(params));
    client.onNotification(proto.queueChanged, (params) => this.queueEmitter.fire(params));
    client.onNotification(proto.liveMetricsUpdated, (params) => this.liveEmitter.fire(params));
    client.onNotification(proto.queueLogUpdated, (params) => this.queueLogEmitter.fire(params));
    client.onDidChangeState((event) => {
      if (event.newState !== State.Running) {
        return;
      }
      // The first start is finished by doStart (version check); a helper the client restarted
      // after a crash comes back here, and the views reload what they show.
      const restarted = life.ran;
      life.ran = true;
      if (restarted && this.current === "starting" && this.client === client) {
        this.setState("running");
      }
    });
    return client;
  }

  private closed(life: ClientLife): CloseHandlerResult {
    // A client that never ran is being started by doStart, which retries on its own; a client
    // that is no longer the current one was replaced (restart) and must stay down.
    if (!life.ran || life.client !== this.client) {
      return { action: CloseAction.DoNotRestart, handled: true };
    }
    const now = Date.now();
    this.crashes = this.crashes.filter((t) => now - t < CRASH_WINDOW_MS);
    this.crashes.push(now);
    const limit = maxRestarts();
    if (this.crashes.length <= limit) {
      this.output.appendLine(`The helper stopped unexpectedly; restarting it (${this.crashes.length} of ${limit}).`);
      this.setState("starting");
      return { action: CloseAction.Restart, message: "Restarting the helper.", handled: true };
    }
    this.giveUp(this.crashes.length);
    return { action: CloseAction.DoNotRestart, handled: true };
  }

  /** Offers (once per interpreter and reason) to install the helper wheel shipped in the extension. */
  private offerInstall(reason: "helperMissing" | "helperTooOld", python: string): void {
    const key = `${reason}:${python}`;
    if (this.offered.has(key)) {
      return;
    }
    this.offered.add(key);
    const what = reason === "helperMissing" ? "is not installed in" : "is older than this extension needs in";
    void vscode.window.showWarningMessage(`The xp helper ${what} ${python}.`, "Install xp Helper", "Show Helper Log")
      .then((choice) => {
        if (choice === "Install xp Helper") {
          void vscode.commands.executeCommand("xp.installHelper");
        } else if (choice === "Show Helper Log") {
          this.output.show();
        }
      });
  }

  /** The helper keeps dying: say so once, with the way out, and stay stopped. */
  private giveUp(times: number): void {
    this.setState("stopped");
    this.output.appendLine(`The helper stopped ${times} times; XP gave up restarting it.`);
    void vscode.window.showErrorMessage(
      `The xp helper stopped ${times} times in a row; XP gave up restarting it.`,
      "Show Helper Log", "Restart Helper",
    ).then((choice) => {
      if (choice === "Show Helper Log") {
        this.output.show();
      } else if (choice === "Restart Helper") {
        void this.restart();
      }
    });
  }

  private async stopClient(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    // A client that failed to start has nothing to stop (and says so loudly if asked).
    if (client?.needsStop()) {
      try {
        // A client torn down by a failed start can leave stop() pending forever; the life of the
        // helper (starts, restarts) must not wait on it for more than a few seconds.
        await Promise.race([client.stop(5000), new Promise((resolve) => setTimeout(resolve, 6000))]);
      } catch (error) {
        this.output.appendLine(`Stopping the helper: ${errorText(error)}`);
      }
    }
  }

  private setState(state: HelperState): void {
    if (state === this.current && state !== "running") {
      return;
    }
    this.current = state;
    void vscode.commands.executeCommand("setContext", "xp.state", state);
    this.stateEmitter.fire(state);
  }
}

/** Folders (one or two levels down) holding their own `.dvc/`: the projects of a monorepo. */
async function subProjects(root: vscode.Uri): Promise<string[]> {
  const found: string[] = [];
  const skip = new Set([".git", ".dvc", ".xp", "node_modules", ".venv"]);
  const walk = async (rel: string, depth: number): Promise<void> => {
    let entries: [string, vscode.FileType][];
    try {
      entries = await vscode.workspace.fs.readDirectory(rel ? vscode.Uri.joinPath(root, ...rel.split("/")) : root);
    } catch {
      return;
    }
    for (const [name, type] of entries.sort((a, b) => a[0].localeCompare(b[0]))) {
      if (type !== vscode.FileType.Directory || skip.has(name)) {
        continue;
      }
      const child = rel ? `${rel}/${name}` : name;
      if (await exists(vscode.Uri.joinPath(root, ...child.split("/"), ".dvc"))) {
        found.push(child);
      } else if (depth < 2) {
        await walk(child, depth + 1);
      }
    }
  };
  await walk("", 1);
  return found;
}

async function exists(uri: vscode.Uri): Promise<boolean> {
  try {
    await vscode.workspace.fs.stat(uri);
    return true;
  } catch {
    return false;
  }
}

/** One line for any error: the helper's own message for a JSON-RPC error (it names the fix). */
export function errorText(error: unknown): string {
  if (error instanceof ResponseError) {
    return error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

/** True for the helper's "bad input" errors (the person can fix what they typed). */
export function isBadInput(error: unknown): boolean {
  return error instanceof ResponseError && error.code === proto.BAD_INPUT;
}
