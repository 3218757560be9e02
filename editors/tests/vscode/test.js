// The VS Code extension in a real VS Code: code-server with the packaged .vsix installed, driven by
// playwright-core in headless Chromium. Run by run.sh inside the sid chroot (node 24); see run.sh for the
// environment it gets. Opens the example app's app/main.py and checks, as a user would see them:
//   1. loopsafe's squiggle under `time.sleep(1)` (line 38, column 9);
//   2. the Problems panel row: source loopsafe, code LS102, [Ln 38, Col 9];
//   3. the quick fix from the light bulb (Ctrl+. if no light bulb shows), applied;
//   4. the new text in the editor (and on disk after saving), the squiggle and the row gone;
//   4b. app/stock_api.py (written here; its only finding a chain through app/services.py): its row
//      without any edit, its squiggle once opened, the hover (the message once, the chain's places in
//      services.py, the run_in_threadpool advice), services.py edited unsaved (the finding goes, and
//      comes back when the line is typed back), the first quick fix of the menu applied and saved;
//   5. a setting (`loopsafe.ignore`) reaching the server; the server run being the bundled binary;
//   6. `loopsafe.path` winning over the bundled binary; the Restart Server and Show Output commands.
// Then, in a second code-server with workspace trust on: Restricted Mode runs only the bundled binary
// (LOOPSAFE_PATH is set), and trusting the folder restarts the server from LOOPSAFE_PATH.
// Exits 0 on success; on failure saves a screenshot and prints where it and the logs are.
"use strict";

const { spawn, spawnSync } = require("node:child_process");
const fs = require("node:fs");
const net = require("node:net");
const path = require("node:path");

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`test.js: ${name} is not set (run editors/tests/vscode/run.sh)`);
  return v;
};
const CACHE = env("VSCODE_TEST_CACHE"); // node_modules with code-server and playwright-core
const VSIX = env("LOOPSAFE_VSIX");
const WORK = env("VSCODE_TEST_WORK"); // a fresh directory for this run (kept on failure)
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const TIMEOUT_MS = Number(process.env.VSCODE_TEST_TIMEOUT_MS ?? 60_000); // per wait

// What the test expects from the example (examples/fastapi_app/app/main.py).
const FILE = "app/main.py";
const LINE = 38; // `        time.sleep(1)` in retry_payment
const COLUMN = 9;
const BEFORE = "time.sleep(1)";
const CODE = "LS102"; // blocking-sleep
// The quick fix to apply and the line it leaves. `asyncio` is already imported by main.py.
const FIX_TITLE = /^Replace time\.sleep with await asyncio\.sleep/; // server/src/fix/kinds.rs, async_sleep (no backticks)
// A module whose only finding is a chain through app/services.py (written into the workspace copy).
const CHAIN_FILE = "app/stock_api.py";
const CHAIN_SOURCE = `"""Stock levels, from the inventory service."""

from fastapi import APIRouter

from app import services

router = APIRouter()


@router.get("/stock")
async def stock(skus: str) -> dict[str, int]:
    return services.stock_summary(skus.split(","))
`;
const AFTER = "await asyncio.sleep(1)";

const { chromium } = require(path.join(CACHE, "node_modules", "playwright-core"));
const CODE_SERVER = path.join(CACHE, "node_modules", ".bin", "code-server");

const started = Date.now();
const log = (msg) => console.log(`[vscode-test ${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`);

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function until(what, f, timeout = TIMEOUT_MS) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await f();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      throw new Error(`timed out after ${timeout / 1000}s waiting for ${what}${last ? ` (last error: ${last.message})` : ""}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

const dirs = {
  userData: path.join(WORK, "code-server-user"),
  userDataUntrusted: path.join(WORK, "code-server-user-untrusted"),
  extensions: path.join(WORK, "code-server-extensions"),
  workspace: path.join(WORK, "fastapi_app"),
  artifacts: path.join(WORK, "artifacts"),
  home: path.join(WORK, "home"),
};
// code-server keeps its own config under XDG dirs: keep them in WORK, not in the chroot's /root.
const childEnv = {
  ...process.env,
  HOME: dirs.home,
  XDG_CONFIG_HOME: path.join(dirs.home, ".config"),
  XDG_DATA_HOME: path.join(dirs.home, ".local", "share"),
  // The extension must find the binary bundled in the .vsix, not one from the environment.
  LOOPSAFE_PATH: "",
};

function installExtension() {
  const r = spawnSync(
    CODE_SERVER,
    ["--user-data-dir", dirs.userData, "--extensions-dir", dirs.extensions, "--install-extension", VSIX],
    { env: childEnv, encoding: "utf8" },
  );
  const out = `${r.stdout}${r.stderr}`;
  if (r.status !== 0 || !/successfully installed/i.test(out)) {
    throw new Error(`code-server --install-extension ${VSIX} failed (status ${r.status}):\n${out}`);
  }
  log(out.trim().split("\n").pop());
  const installed = fs.readdirSync(dirs.extensions).filter((d) => d.startsWith("loopsafe."));
  if (installed.length !== 1) throw new Error(`expected one loopsafe extension in ${dirs.extensions}, found ${installed}`);
  const bin = path.join(dirs.extensions, installed[0], "bundled", "bin", "loopsafe");
  fs.accessSync(bin, fs.constants.X_OK);
  log(`bundled server: ${bin}`);
}

function writeUserSettings(userData, trust) {
  const settings = {
    // Trust off for the main session; on for the untrusted one, which opens in Restricted Mode.
    "security.workspace.trust.enabled": trust,
    "security.workspace.trust.startupPrompt": "never",
    "workbench.startupEditor": "none",
    "workbench.tips.enabled": false,
    "workbench.welcomePage.walkthroughs.openOnInstall": false,
    "workbench.enableExperiments": false,
    "telemetry.telemetryLevel": "off",
    "update.mode": "none",
    "extensions.autoCheckUpdates": false,
    "extensions.autoUpdate": false,
    "extensions.ignoreRecommendations": true,
    "chat.disableAIFeatures": true,
    "editor.lightbulb.enabled": "on",
    "editor.minimap.enabled": false,
    "editor.hover.enabled": false,
    "files.autoSave": "off",
    "loopsafe.trace.server": "verbose", // the LSP messages with their parameters, in the loopsafe output
  };
  fs.mkdirSync(path.join(userData, "User"), { recursive: true });
  fs.writeFileSync(path.join(userData, "User", "settings.json"), JSON.stringify(settings, null, 2));
}

async function startCodeServer(userData, trust, env) {
  const port = await freePort();
  const logFile = path.join(dirs.artifacts, `code-server${trust ? "-untrusted" : ""}.log`);
  const out = fs.openSync(logFile, "w");
  const args = [
    "--auth", "none",
    "--bind-addr", `127.0.0.1:${port}`,
    "--user-data-dir", userData,
    "--extensions-dir", dirs.extensions,
    "--disable-telemetry",
    "--disable-update-check",
    ...(trust ? [] : ["--disable-workspace-trust"]),
    "--ignore-last-opened",
    dirs.workspace,
  ];
  const child = spawn(CODE_SERVER, args, { env, stdio: ["ignore", out, out], detached: true });
  const url = `http://127.0.0.1:${port}`;
  log(`code-server pid ${child.pid} on ${url} (log: ${logFile})`);
  let exited = null;
  child.on("exit", (code, signal) => (exited = `exited with ${code ?? signal}`));
  await until("code-server to answer /healthz", async () => {
    if (exited) throw new Error(`code-server ${exited}; see ${logFile}`);
    const r = await fetch(`${url}/healthz`);
    return r.ok;
  });
  return { child, url, logFile };
}

/** The workbench's state for one line of the active editor, as rendered. */
async function lineState(page, needle) {
  return page.evaluate((needle) => {
    const editor = document.querySelector(".editor-instance .monaco-editor");
    if (!editor) return null;
    const text = (el) => el.textContent.replace(/\u00a0/g, " ");
    const line = [...editor.querySelectorAll(".view-lines .view-line")].find((l) => text(l).includes(needle));
    if (!line) return null;
    const lr = line.getBoundingClientRect();
    // x of the first non-blank character of the line
    let x = null;
    const walker = document.createTreeWalker(line, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n && x === null; n = walker.nextNode()) {
      const i = n.data.search(/[^\s\u00a0]/);
      if (i >= 0) {
        const range = document.createRange();
        range.setStart(n, i);
        range.setEnd(n, i + 1);
        x = range.getBoundingClientRect().left;
      }
    }
    const squiggles = [...editor.querySelectorAll(".view-overlays [class*='squiggly-']")]
      .map((s) => ({ cls: s.className, r: s.getBoundingClientRect() }))
      .filter(({ r }) => r.top + r.height / 2 >= lr.top && r.top + r.height / 2 <= lr.bottom)
      .map(({ cls, r }) => ({ cls, left: r.left, width: r.width }));
    return { text: text(line), firstCharX: x, squiggles };
  }, needle);
}

async function problemRows(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll(".markers-panel .monaco-list-row")].map((r) => ({
      text: r.innerText.replace(/\s+/g, " ").trim(),
      aria: r.getAttribute("aria-label") ?? "",
    })),
  );
}

async function openMain(page, url) {
  await page.goto(`${url}/?folder=${encodeURIComponent(dirs.workspace)}`);
  await page.waitForSelector(".monaco-workbench", { timeout: TIMEOUT_MS });
  log("workbench loaded");
  // The explorer shows the folder once the remote file system is up.
  await page.waitForSelector(".explorer-folders-view .monaco-list-row", { timeout: TIMEOUT_MS });

  // 1. Open app/main.py with Quick Open and go to the call.
  await until("app/main.py to open", async () => {
    await page.keyboard.press("Escape");
    await page.locator(".monaco-workbench").click({ position: { x: 5, y: 5 }, force: true }).catch(() => {});
    await page.keyboard.press("Control+P");
    await page.waitForSelector(".quick-input-widget input", { state: "visible", timeout: 5000 });
    await page.keyboard.type(FILE);
    await page.waitForSelector(".quick-input-list .monaco-list-row", { timeout: 5000 });
    await page.keyboard.press("Enter");
    await page.waitForSelector(".tab.active:has-text('main.py')", { timeout: 5000 });
    return page.waitForSelector(".editor-instance .monaco-editor .view-line", { timeout: 5000 });
  });
  log(`opened ${FILE}`);
}

async function run(page, url) {
  await openMain(page, url);
  await goToLine(page, LINE, COLUMN);

  // 2. The squiggle, on the line and starting at the call.
  const squiggled = await until(`loopsafe's squiggle under \`${BEFORE}\``, async () => {
    const s = await lineState(page, BEFORE);
    return s && s.squiggles.length > 0 ? s : null;
  });
  const sq = squiggled.squiggles[0];
  log(`squiggle ${sq.cls} at x=${sq.left.toFixed(1)} (width ${sq.width.toFixed(1)}) on \`${squiggled.text.trim()}\``);
  if (Math.abs(sq.left - squiggled.firstCharX) > 3) {
    throw new Error(`the squiggle starts at x=${sq.left}, the call at x=${squiggled.firstCharX}`);
  }
  if (!/squiggly-error/.test(sq.cls)) {
    throw new Error(`expected an error squiggle (blocking-sleep is critical), got ${sq.cls}`);
  }

  // 3. The Problems panel row at the call's position (found by position, then checked): source, code,
  // and a message without raw backticks.
  await page.keyboard.press("Control+Shift+M");
  const at = `[Ln ${LINE}, Col ${COLUMN}]`;
  const row = await until(`a loopsafe Problems row at ${at}`, async () =>
    (await problemRows(page)).find((r) => r.text.includes(at) && r.text.includes("loopsafe")),
  );
  log(`Problems row: ${row.text}`);
  const expect = [[CODE, "code"], ["time.sleep stops the whole event loop", "message (without backticks)"]];
  for (const [s, what] of expect) {
    if (!row.text.includes(s)) throw new Error(`the Problems row lacks the ${what} \`${s}\`: ${row.text}`);
  }
  if (row.text.includes("`")) throw new Error(`the Problems row shows raw backticks: ${row.text}`);

  // 4. The quick fix from the light bulb at the call (Ctrl+. when no light bulb shows).
  await goToLine(page, LINE, COLUMN);
  await openQuickFixes(page);
  const titles = await page.$$eval(".action-widget .monaco-list-row", (rows) =>
    rows.map((r) => r.innerText.replace(/\s+/g, " ").trim()),
  );
  log(`quick fixes offered: ${JSON.stringify(titles)}`);
  const ticked = titles.filter((t) => t.includes("`") && !t.startsWith("Ruff"));
  if (ticked.length > 0) throw new Error(`quick fix titles with raw backticks: ${JSON.stringify(ticked)}`);
  const item = page.locator(".action-widget .monaco-list-row").filter({ hasText: FIX_TITLE }).first();
  if ((await item.count()) === 0) {
    throw new Error(`no quick fix matching ${FIX_TITLE} among ${JSON.stringify(titles)}`);
  }
  log(`applying: ${(await item.innerText()).trim()}`);
  await item.click();

  // 5. The new text, in the editor and on disk once saved; the problem gone.
  await until(`the line to read \`${AFTER}\``, async () => (await lineState(page, AFTER)) !== null);
  log(`editor shows \`${AFTER}\``);
  await page.keyboard.press("Control+S");
  const file = path.join(dirs.workspace, FILE);
  const saved = await until(`${FILE} to be saved with the fix`, async () => {
    const lines = fs.readFileSync(file, "utf8").split("\n");
    return lines[LINE - 1].trim() === AFTER ? lines : null;
  });
  log(`saved line ${LINE}: \`${saved[LINE - 1]}\``);
  if (saved.some((l) => l.includes(BEFORE))) throw new Error(`${FILE} still contains \`${BEFORE}\``);
  await until("the squiggle to go", async () => {
    const s = await lineState(page, AFTER);
    return s && s.squiggles.length === 0;
  });
  await until(`the ${CODE} row to leave the Problems panel`, async () => {
    const rows = await problemRows(page);
    // Other findings of main.py stay: the panel is still filled, only this one is gone.
    return rows.some((r) => r.text.includes("loopsafe")) && !rows.some((r) => r.text.includes(CODE));
  });
  log(`the squiggle and the ${CODE} row are gone; other rows: ${(await problemRows(page)).filter((r) => /LS\d/.test(r.text)).length}`);

  // 5b. The chain finding of stock_api.py (its only finding, through app/services.py) is listed
  // without any edit: the workspace report of a closed file, then the document's own once opened.
  const chainRow = async () =>
    (await problemRows(page)).find((r) => r.text.includes("services.stock_summary is synchronous") && r.text.includes("[Ln 12, Col 12]"));
  const chained = await until("the chain finding of stock_api.py in the Problems panel", chainRow);
  log(`chain row: ${chained.text}`);
  await openFile(page, CHAIN_FILE);
  await until("the chain squiggle in the opened stock_api.py", async () => {
    const s = await lineState(page, "services.stock_summary(");
    return s && s.squiggles.length > 0 ? s : null;
  });
  await until("the chain row to stay once stock_api.py is open", chainRow);
  log("stock_api.py opened: its chain finding is squiggled and listed");

  // 5c. The hover on it (Show Hover from the keyboard): VS Code shows the message and the chain's
  // locations; loopsafe's part adds the advice, naming the quick fix's run_in_threadpool, and does not
  // repeat the message.
  await goToLine(page, 12, 12);
  await page.keyboard.press("Control+K");
  await page.keyboard.press("Control+I");
  const hover = await until("the hover on the chain finding", async () => {
    const t = await page.evaluate(() =>
      [...document.querySelectorAll(".monaco-hover")].map((h) => h.innerText).join("\n"),
    );
    return t.includes("run_in_threadpool") ? t : null;
  });
  log(`hover: ${hover.replace(/\s+/g, " ")}`);
  const repeats = hover.split("services.stock_summary is synchronous").length - 1;
  if (repeats !== 1) throw new Error(`the hover shows the message ${repeats} times: ${hover}`);
  if (!/services\.py\D+17\D/.test(hover) || !/services\.py\D+10\D/.test(hover)) {
    throw new Error(`the hover lacks the chain's places (services.py lines 17 and 10): ${hover}`);
  }
  // The picture of a chain finding in editors/vscode/README.md is taken here (run.sh --screenshot).
  if (process.env.VSCODE_TEST_SCREENSHOT) {
    await page.screenshot({ path: process.env.VSCODE_TEST_SCREENSHOT });
    log(`screenshot of the chain hover: ${process.env.VSCODE_TEST_SCREENSHOT}`);
  }
  await page.keyboard.press("Escape");

  // 5d. app/services.py edited, unsaved: the chain finding goes from stock_api.py (its squiggle, in
  // view, and its row while the panel still lists main.py's), and comes back when the edit is undone.
  const servicesLines = fs.readFileSync(path.join(dirs.workspace, "app/services.py"), "utf8").split("\n");
  const getLine = servicesLines.findIndex((l) => l.includes("requests.get(")) + 1;
  const originalLine = servicesLines[getLine - 1];
  await openFile(page, "app/services.py");
  await goToLine(page, getLine, 1);
  await page.keyboard.press("Shift+End");
  await page.keyboard.insertText("    response = inventory_response(sku)"); // as one edit: no auto-closing
  await openFile(page, CHAIN_FILE);
  await until("the chain finding to go from stock_api.py after the unsaved edit of services.py", async () => {
    const s = await lineState(page, "services.stock_summary(");
    const rows = await problemRows(page);
    return s && s.squiggles.length === 0 && rows.some((r) => r.text.includes("LS107")) && !(await chainRow());
  });
  log("services.py edited (unsaved): the chain squiggle and row went from stock_api.py");
  await openFile(page, "app/services.py");
  await goToLine(page, getLine, 1);
  await page.keyboard.press("Shift+End");
  await page.keyboard.insertText(originalLine);
  await openFile(page, CHAIN_FILE);
  await until("the chain finding back after the edit was undone", async () => {
    const s = await lineState(page, "services.stock_summary(");
    return s && s.squiggles.length > 0 && (await chainRow());
  });
  log("edit undone (the line typed back): the chain finding is back");

  // 5e. The preferred fix from the quick fix menu: the first row is loopsafe's offload fix; applied,
  // saved, on disk.
  await goToLine(page, 12, 12);
  await openQuickFixes(page);
  const chainTitles = await page.$$eval(".action-widget .monaco-list-row", (rows) =>
    rows.map((r) => r.innerText.replace(/\s+/g, " ").trim()),
  );
  log(`quick fixes at the chain: ${JSON.stringify(chainTitles)}`);
  const firstFix = chainTitles.find((t) => t !== "Quick Fix");
  if (firstFix !== "Offload services.stock_summary to a thread with run_in_threadpool") {
    throw new Error(`the first quick fix is not the preferred offload fix: ${JSON.stringify(chainTitles)}`);
  }
  await page.locator(".action-widget .monaco-list-row").filter({ hasText: firstFix }).first().click();
  await until("the offload fix in the editor", async () => (await lineState(page, "await run_in_threadpool(")) !== null);
  await page.keyboard.press("Control+S");
  await until(`${CHAIN_FILE} saved with the fix`, async () => {
    const t = fs.readFileSync(path.join(dirs.workspace, CHAIN_FILE), "utf8");
    return t.includes("return await run_in_threadpool(services.stock_summary, skus.split(\",\"))") &&
      t.includes("from fastapi.concurrency import run_in_threadpool");
  });
  log("the offload fix applied from the menu and saved");

  // 6. A setting reaches the server: `loopsafe.ignore` in the workspace's settings drops LS107 rows,
  // the others stay (workspace/didChangeConfiguration with the key of [tool.loopsafe]).
  const before = await problemRows(page);
  if (!before.some((r) => r.text.includes("LS107"))) throw new Error("expected LS107 rows before the setting");
  fs.mkdirSync(path.join(dirs.workspace, ".vscode"), { recursive: true });
  fs.writeFileSync(path.join(dirs.workspace, ".vscode", "settings.json"), '{ "loopsafe.ignore": ["blocking-database"] }\n');
  await until("`loopsafe.ignore` to drop the LS107 rows", async () => {
    const rows = await problemRows(page);
    return !rows.some((r) => r.text.includes("LS107")) && rows.some((r) => r.text.includes("LS101"));
  });
  log("loopsafe.ignore = [\"blocking-database\"]: the LS107 rows are gone, LS101 stays");

  // 7. The server that ran is the binary bundled in the .vsix (the loopsafe output says where from).
  const started = starts();
  if (started.length !== 1 || !started[0].includes("from the bundled binary")) {
    throw new Error(`the loopsafe output does not say the bundled binary was started: ${JSON.stringify(started)}`);
  }
  log(`loopsafe output: ${started[0]}`);

  // 8. `loopsafe.path` takes precedence over the bundled binary and restarts the server; the restarted
  // server gets the settings as initializationOptions (LS107 stays ignored).
  const copy = path.join(WORK, "bin", "loopsafe");
  fs.mkdirSync(path.dirname(copy), { recursive: true });
  fs.copyFileSync(started[0].match(/^starting (.*) server \(/)[1], copy);
  fs.chmodSync(copy, 0o755);
  fs.writeFileSync(
    path.join(dirs.workspace, ".vscode", "settings.json"),
    JSON.stringify({ "loopsafe.ignore": ["blocking-database"], "loopsafe.path": copy }, null, 2),
  );
  const fromSetting = `starting ${copy} server (from loopsafe.path)`;
  await until("the server to restart from `loopsafe.path`", async () => starts().at(-1) === fromSetting);
  const sinceStart = () => outputLog().split(fromSetting).at(-1).replace(/\s+/g, " ");
  await until("the restarted server to answer a diagnostic pull", async () =>
    /Received response 'textDocument\/diagnostic/.test(sinceStart()),
  );
  const init = sinceStart().match(/"initializationOptions": (\{[^}]*\}|null)/)?.[1];
  if (init !== '{ "ignore": [ "blocking-database" ] }') {
    throw new Error(`the restarted server got initializationOptions ${init}, expected the loopsafe.ignore setting`);
  }
  await until("the restarted server's diagnostics, still without LS107", async () => {
    const rows = await problemRows(page);
    return rows.some((r) => r.text.includes("LS101")) && !rows.some((r) => r.text.includes("LS107"));
  });
  log(`loopsafe.path: ${fromSetting}; initializationOptions ${init}; diagnostics back, LS107 still ignored`);

  // 9. The commands: Restart Server starts it again, Show Output shows the loopsafe output.
  const n = starts().length;
  await runCommand(page, "loopsafe: Restart Server");
  await until("Restart Server to start the server again", async () => starts().length === n + 1);
  await until("diagnostics after Restart Server", async () =>
    (await problemRows(page)).some((r) => r.text.includes("LS101")),
  );
  log("loopsafe: Restart Server restarted it");
  await runCommand(page, "loopsafe: Show Output");
  // The Output panel with the "loopsafe" channel picked, showing its lines (the tail of the trace).
  await until("the Output panel to show the loopsafe output", async () =>
    page.evaluate(() => {
      const panel = document.querySelector(".part.panel");
      const select = panel?.querySelector("select.monaco-select-box");
      const channel = select?.selectedOptions[0]?.textContent.trim();
      const text = [...(panel?.querySelectorAll(".monaco-editor .view-lines") ?? [])]
        .filter((e) => e.offsetParent !== null)
        .map((e) => e.textContent)
        .join("\n");
      return channel === "loopsafe" && text.trim().length > 0;
    }),
  );
  log("loopsafe: Show Output shows the loopsafe output");
}

/**
 * A second code-server with workspace trust on: the folder opens in Restricted Mode, where only the
 * bundled binary may run, although LOOPSAFE_PATH and the workspace's `loopsafe.path` (left by `run`)
 * name another. Trusting the folder restarts the server with the full lookup: LOOPSAFE_PATH first.
 */
async function runUntrusted(page, url, copy) {
  await openMain(page, url);
  await until("the status bar to say Restricted Mode", async () =>
    page.evaluate(() => [...document.querySelectorAll(".statusbar-item")].some((e) => /Restricted Mode/.test(e.textContent))),
  );
  log("the folder is in Restricted Mode");
  const squiggled = await until(`loopsafe's squiggle in Restricted Mode`, async () => {
    const s = await lineState(page, "requests.get(");
    return s && s.squiggles.length > 0 ? s : null;
  });
  log(`squiggle ${squiggled.squiggles[0].cls} on \`${squiggled.text.trim()}\``);
  // The output channel reaches its log file a little after the server has started (buffered writes).
  const first = await until("the server's start in the untrusted session's output log", async () => {
    const s = starts(dirs.userDataUntrusted);
    return s.length > 0 ? s : null;
  });
  if (first.length !== 1 || !first[0].endsWith("(from the bundled binary, the only one allowed in an untrusted workspace)")) {
    throw new Error(`untrusted: expected one start of the bundled binary, got ${JSON.stringify(first)}`);
  }
  log(`loopsafe output: ${first[0]}`);

  await runCommand(page, "Workspaces: Manage Workspace Trust");
  const trustButton = page.getByRole("button", { name: "Trust", exact: true }).first();
  await trustButton.waitFor({ state: "visible", timeout: TIMEOUT_MS });
  await trustButton.click();
  const fromEnv = `starting ${copy} server (from LOOPSAFE_PATH)`;
  await until("trusting the folder to restart the server from LOOPSAFE_PATH", async () =>
    starts(dirs.userDataUntrusted).at(-1) === fromEnv,
  );
  log(`trusted: ${fromEnv}`);
}

/** The "starting ... server (from ...)" lines of the loopsafe output, in order. */
function starts(userData = dirs.userData) {
  return outputLog(userData).match(/^starting .* server \(from .*\)$/gm) ?? [];
}

async function runCommand(page, title) {
  await page.keyboard.press("Escape");
  await page.keyboard.press("F1");
  await page.waitForSelector(".quick-input-widget input", { state: "visible", timeout: 5000 });
  await page.keyboard.type(title);
  await page
    .locator(".quick-input-list .monaco-list-row")
    .filter({ hasText: title })
    .first()
    .waitFor({ state: "visible", timeout: 5000 });
  await page.keyboard.press("Enter");
  await page.waitForSelector(".quick-input-widget", { state: "hidden", timeout: 5000 });
}

/** The text of the loopsafe output channel, from code-server's logs. */
function outputLog(userData = dirs.userData) {
  const found = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/loopsafe.*\.log$/.test(e.name)) found.push(p);
    }
  };
  walk(path.join(userData, "logs"));
  return found.map((f) => fs.readFileSync(f, "utf8")).join("\n");
}

/** Opens a workspace file as a user would: with Quick Open, and every other attempt from the Explorer
 * (retried: focus may be elsewhere, and on a loaded machine Quick Open sometimes never shows). */
async function openFile(page, rel) {
  const name = path.basename(rel);
  let attempt = 0;
  await until(`${rel} to open`, async () => {
    attempt += 1;
    await page.keyboard.press("Escape");
    if (attempt % 2 === 0) {
      const row = page.locator(".explorer-folders-view .monaco-list-row", { hasText: name }).first();
      await row.click({ timeout: 5000 });
    } else {
      await page.locator(".monaco-workbench").click({ position: { x: 5, y: 5 }, force: true }).catch(() => {});
      await page.keyboard.press("Control+P");
      await page.waitForSelector(".quick-input-widget input", { state: "visible", timeout: 5000 });
      await page.keyboard.type(rel);
      await page.waitForSelector(".quick-input-list .monaco-list-row", { timeout: 5000 });
      await page.keyboard.press("Enter");
    }
    return page.waitForSelector(`.tab.active:has-text('${name}')`, { timeout: 5000 });
  });
}

async function goToLine(page, line, column) {
  await page.locator(".editor-instance .monaco-editor .view-lines").first().click();
  await page.keyboard.press("Control+G");
  await page.waitForSelector(".quick-input-widget input", { state: "visible", timeout: 5000 });
  await page.keyboard.type(`${line}:${column}`);
  await page.keyboard.press("Enter");
  await page.waitForSelector(".quick-input-widget", { state: "hidden", timeout: 5000 });
}

async function openQuickFixes(page) {
  const bulb = page.locator(".monaco-editor .lightBulbWidget, .monaco-editor [class*='codicon-lightbulb']").first();
  let how;
  try {
    await bulb.waitFor({ state: "visible", timeout: 15_000 });
    await bulb.click();
    how = "light bulb";
  } catch (e) {
    log(`no light bulb to click (${e.message.split("\n")[0]}); using Ctrl+.`);
    await page.keyboard.press("Control+.");
    how = "Ctrl+.";
  }
  // Either the menu or the editor's "No code actions available" message.
  const menu = ".action-widget .monaco-list-row";
  const none = ".monaco-editor .monaco-editor-overlaymessage";
  await page.waitForSelector(`${menu}, ${none}`, { state: "visible", timeout: TIMEOUT_MS });
  if (!(await page.locator(menu).first().isVisible())) {
    const msg = (await page.locator(none).first().innerText()).trim();
    throw new Error(`the ${how} opened no quick fix menu: "${msg}" (the server offered no code action here)`);
  }
  log(`quick fix menu opened with the ${how}`);
}

async function withBrowser(browser, name, userData, logFile, f) {
  const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
  const page = await context.newPage();
  page.on("pageerror", (e) => log(`page error: ${e.message}`));
  try {
    await f(page);
  } catch (e) {
    const shot = path.join(dirs.artifacts, `failure-${name}.png`);
    await page.screenshot({ path: shot }).catch(() => {});
    console.error(`screenshot: ${shot}`);
    console.error(`code-server log: ${logFile}`);
    console.error(`extension logs (loopsafe output): ${path.join(userData, "logs")}`);
    throw e;
  } finally {
    await context.close().catch(() => {});
  }
}

function stop(server) {
  try {
    process.kill(-server.child.pid, "SIGTERM");
  } catch {
    // already gone
  }
}

async function main() {
  for (const d of Object.values(dirs)) if (d !== dirs.workspace) fs.mkdirSync(d, { recursive: true });
  if (!fs.existsSync(path.join(dirs.workspace, FILE))) throw new Error(`no ${FILE} in ${dirs.workspace}`);
  fs.writeFileSync(path.join(dirs.workspace, CHAIN_FILE), CHAIN_SOURCE);
  installExtension();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    chromiumSandbox: false,
    args: [
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const servers = [];
  try {
    writeUserSettings(dirs.userData, false);
    const server = await startCodeServer(dirs.userData, false, childEnv);
    servers.push(server);
    await withBrowser(browser, "trusted", dirs.userData, server.logFile, (page) => run(page, server.url));
    stop(server);
    log("main session passed");

    // The copy of the binary that `run` pointed `loopsafe.path` at, now named by LOOPSAFE_PATH too.
    const copy = path.join(WORK, "bin", "loopsafe");
    writeUserSettings(dirs.userDataUntrusted, true);
    const untrusted = await startCodeServer(dirs.userDataUntrusted, true, { ...childEnv, LOOPSAFE_PATH: copy });
    servers.push(untrusted);
    await withBrowser(browser, "untrusted", dirs.userDataUntrusted, untrusted.logFile, (page) =>
      runUntrusted(page, untrusted.url, copy),
    );
    log("PASS");
  } finally {
    await browser.close().catch(() => {});
    servers.forEach(stop);
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`[vscode-test] FAIL: ${e.stack ?? e}`);
    process.exit(1);
  },
);
