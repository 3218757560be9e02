// The loopsafe extension: starts `loopsafe server` for Python files and passes it the settings.
//
// The server takes the keys of `[tool.loopsafe]` as `initializationOptions` and in
// `workspace/didChangeConfiguration` (under "loopsafe"); each key it gets overrides the same key of
// the project's `pyproject.toml` table, so only the settings the user actually set are sent (a default
// sent here would override the project's value).

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as vscode from "vscode";
import {
  DidChangeConfigurationNotification,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  State,
} from "vscode-languageclient/node";

/** The `[tool.loopsafe]` keys; each is the VS Code setting `loopsafe.<key>`. */
const SERVER_KEYS = [
  "select",
  "extend-select",
  "ignore",
  "exclude",
  "extend-exclude",
  "per-file-ignores",
  "extend-per-file-ignores",
  "severity",
  "extend-blocking-calls",
  "offload",
  "baseline",
  "baseline-in-editor",
  "runtime",
];

const EXE = process.platform === "win32" ? "loopsafe.exe" : "loopsafe";

let client: LanguageClient | undefined;
let output: vscode.OutputChannel;
let extensionPath: string;
/** Serialises start/stop so that quick setting changes or restarts do not race. */
let queue: Promise<void> = Promise.resolve();

export function activate(context: vscode.ExtensionContext): void {
  extensionPath = context.extensionPath;
  output = vscode.window.createOutputChannel("loopsafe");
  context.subscriptions.push(
    output,
    vscode.commands.registerCommand("loopsafe.restart", () => enqueue(restart)),
    vscode.commands.registerCommand("loopsafe.showOutput", () => output.show(true)),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration("loopsafe.path")) {
        enqueue(restart);
      } else if (SERVER_KEYS.some((k) => e.affectsConfiguration(`loopsafe.${k}`))) {
        enqueue(settingsChanged);
      }
    }),
    // Trust widens the binary lookup beyond the bundled binary.
    vscode.workspace.onDidGrantWorkspaceTrust(() => enqueue(restart)),
  );
  enqueue(start);
}

export function deactivate(): Thenable<void> | undefined {
  return client?.stop();
}

function enqueue(f: () => Promise<void>): Promise<void> {
  queue = queue.then(f).catch((e) => {
    output.appendLine(`loopsafe: ${e instanceof Error ? e.message : String(e)}`);
  });
  return queue;
}

/** The server settings the user set (workspace folder, workspace or user level), or null if none. */
export function serverSettings(): Record<string, unknown> | null {
  const config = vscode.workspace.getConfiguration("loopsafe");
  const settings: Record<string, unknown> = {};
  for (const key of SERVER_KEYS) {
    const i = config.inspect(key);
    const value = i?.workspaceFolderValue ?? i?.workspaceValue ?? i?.globalValue;
    if (value !== undefined && value !== null) {
      settings[key] = value;
    }
  }
  return Object.keys(settings).length > 0 ? settings : null;
}

async function settingsChanged(): Promise<void> {
  const settings = serverSettings();
  if (client === undefined || client.state !== State.Running || settings === null) {
    // No settings left: only a fresh start makes the server go back to pyproject.toml.
    return restart();
  }
  output.appendLine(`settings: ${JSON.stringify(settings)}`);
  await client.sendNotification(DidChangeConfigurationNotification.type, { settings: { loopsafe: settings } });
}

/** Finds the server binary: LOOPSAFE_PATH, `loopsafe.path`, the bundled binary, PATH (trusted only). */
export function findServer(): { path: string; from: string } | { error: string } {
  const bundled = path.join(extensionPath, "bundled", "bin", EXE);
  makeExecutable(bundled);
  if (!vscode.workspace.isTrusted) {
    return isExecutable(bundled)
      ? { path: bundled, from: "the bundled binary, the only one allowed in an untrusted workspace" }
      : {
          error:
            "this workspace is not trusted and the extension has no bundled binary; trust the workspace to use LOOPSAFE_PATH, loopsafe.path or PATH",
        };
  }
  const env = process.env.LOOPSAFE_PATH;
  if (env) {
    return isExecutable(env)
      ? { path: env, from: "LOOPSAFE_PATH" }
      : { error: `LOOPSAFE_PATH is ${env}, which is not an executable file` };
  }
  const setting = vscode.workspace.getConfiguration("loopsafe").get<string | null>("path");
  if (setting) {
    const p = resolveSetting(setting);
    return isExecutable(p) ? { path: p, from: "loopsafe.path" } : { error: `loopsafe.path is ${p}, which is not an executable file` };
  }
  if (isExecutable(bundled)) {
    return { path: bundled, from: "the bundled binary" };
  }
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    const p = dir && path.join(dir, EXE);
    if (p && isExecutable(p)) {
      return { path: p, from: "PATH" };
    }
  }
  return { error: "no loopsafe binary: set loopsafe.path or LOOPSAFE_PATH, or install it (cargo install --path server)" };
}

function resolveSetting(p: string): string {
  if (p === "~" || p.startsWith("~/")) {
    p = path.join(os.homedir(), p.slice(1));
  }
  const folder = vscode.workspace.workspaceFolders?.[0];
  p = p.replace(/\$\{workspaceFolder\}/g, folder?.uri.fsPath ?? "");
  if (!path.isAbsolute(p) && folder) {
    p = path.join(folder.uri.fsPath, p);
  }
  return p;
}

/** An extension unpacked without file modes would have a bundled binary that cannot run. */
function makeExecutable(p: string): void {
  try {
    if (process.platform !== "win32" && fs.statSync(p).isFile() && !isExecutable(p)) {
      fs.chmodSync(p, 0o755);
    }
  } catch {
    // no bundled binary
  }
}

function isExecutable(p: string): boolean {
  try {
    if (!fs.statSync(p).isFile()) {
      return false;
    }
    fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function start(): Promise<void> {
  const found = findServer();
  if ("error" in found) {
    output.appendLine(`loopsafe: ${found.error}`);
    void vscode.window.showErrorMessage(`loopsafe: ${found.error}`, "Show Output").then((choice) => {
      if (choice) output.show(true);
    });
    return;
  }
  output.appendLine(`starting ${found.path} server (from ${found.from})`);
  const serverOptions: ServerOptions = { command: found.path, args: ["server"] };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: "file", language: "python" }],
    // A function, so that each (re)start reads the current settings.
    initializationOptions: () => serverSettings(),
    outputChannel: output,
  };
  // The id "loopsafe" makes the client read `loopsafe.trace.server`.
  client = new LanguageClient("loopsafe", "loopsafe", serverOptions, clientOptions);
  // VS Code's hover already shows a diagnostic's message and related locations (the chain): the server
  // then adds only the route and the advice, instead of repeating them.
  client.registerFeature({
    fillClientCapabilities(capabilities) {
      capabilities.experimental = { ...(capabilities.experimental ?? {}), loopsafe: { diagnosticsInHover: true } };
    },
    initialize() {},
    getState: () => ({ kind: "static" }),
    clear() {},
  });
  await client.start();
}

async function restart(): Promise<void> {
  const old = client;
  client = undefined;
  if (old !== undefined) {
    try {
      // Stops the server if it runs; the output channel is ours and stays.
      await old.dispose();
    } catch (e) {
      output.appendLine(`stopping the server: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  await start();
}
