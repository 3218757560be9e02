-- End-to-end test of the shipped Neovim configuration (editors/neovim/lsp/loopsafe.lua) in real Neovim:
--   nvim --headless -l editors/tests/neovim/test.lua        (from the repository root, Neovim 0.11+)
-- The server binary comes from LOOPSAFE_BIN (default ./target/release/loopsafe). In a copy of the example
-- FastAPI app with one more module, app/stock_api.py, whose only finding is a chain through another
-- module (a route calls `services.stock_summary`, which reaches `requests.get` in app/services.py):
--   1. opens stock_api.py OPENS times, each with a new server, and sees the chain finding each time
--      without any edit (Neovim pulled too early and kept a report without it);
--   2. hovers it and checks the chain's steps with their files and lines, and the advice;
--   3. edits app/services.py in another window (unsaved) and sees the finding go from stock_api.py
--      without touching it, then come back when the edit is undone;
--      Then, with services.py closed, changes it on disk (another program) and sees the same;
--   4. applies the preferred fix from the code action menu and checks the file on disk;
--   5. in main.py, checks LS102 (`time.sleep`) beside ruff's ASYNC251 and applies its preferred fix.
-- Also: messages and action titles carry no Markdown backticks, and loopsafe's log messages arrive as
-- window/logMessage with their own type (info as info). Exits 1 with a message on the first failure.

local TIMEOUT = tonumber(os.getenv('LOOPSAFE_TEST_TIMEOUT_MS') or '') or 30000

local function log(msg)
  io.stdout:write('neovim-test: ' .. msg .. '\n')
  io.stdout:flush()
end

local tmp -- the temporary directory, removed at exit

local function finish(code)
  if tmp then
    vim.fn.delete(tmp, 'rf')
  end
  for _, client in ipairs(vim.lsp.get_clients()) do
    client:stop(true)
  end
  os.exit(code)
end

local function fail(msg)
  io.stderr:write('neovim-test: FAIL: ' .. msg .. '\n')
  finish(1)
end

local function check(cond, msg)
  if not cond then
    fail(msg)
  end
end

-- Paths: the repository is two levels above this file.
local script = debug.getinfo(1, 'S').source:sub(2)
local repo = vim.fn.fnamemodify(vim.fn.resolve(vim.fn.fnamemodify(script, ':p')), ':h:h:h:h')
local bin = os.getenv('LOOPSAFE_BIN') or (repo .. '/target/release/loopsafe')
bin = vim.fn.fnamemodify(bin, ':p')
check(vim.fn.executable(bin) == 1, 'no loopsafe binary at ' .. bin .. ' (build it, or set LOOPSAFE_BIN)')
check(vim.fn.has('nvim-0.11') == 1, 'Neovim 0.11+ is needed, this is ' .. tostring(vim.version()))
log('Neovim ' .. tostring(vim.version()) .. ', server ' .. bin)

-- A scratch copy of the example app, and `loopsafe` on PATH under its own name (the shipped config
-- runs `loopsafe server`).
tmp = vim.fn.tempname()
vim.fn.mkdir(tmp .. '/bin', 'p')
vim.fn.system({ 'cp', '-R', repo .. '/examples/fastapi_app', tmp .. '/app' })
check(vim.v.shell_error == 0, 'could not copy examples/fastapi_app')
vim.uv.fs_symlink(bin, tmp .. '/bin/loopsafe')
vim.env.PATH = tmp .. '/bin:' .. vim.env.PATH
local project = tmp .. '/app'

-- The configuration under test, found the way a user's is: lsp/loopsafe.lua on the runtimepath.
vim.opt.runtimepath:prepend(repo .. '/editors/neovim')
vim.cmd('filetype on')
local shipped = vim.lsp.config.loopsafe
check(shipped and shipped.cmd and shipped.cmd[1] == 'loopsafe', 'lsp/loopsafe.lua was not found on the runtimepath')
check(vim.tbl_contains(shipped.root_markers or {}, 'pyproject.toml'), 'root_markers lacks pyproject.toml')

-- A second Python server on the same buffer, as users have: ruff's (`ruff server`; the chroot has it).
check(vim.fn.executable('ruff') == 1, 'ruff is not installed (the sid chroot installs it)')
vim.lsp.config('ruff', { cmd = { 'ruff', 'server' }, filetypes = { 'python' }, root_markers = { 'pyproject.toml' } })
-- An error the server shows (a rejected setting, say) fails the test.
local shown_errors = {}
vim.lsp.handlers['window/showMessage'] = function(_, result, ctx)
  if result.type == vim.lsp.protocol.MessageType.Error then
    table.insert(shown_errors, result.message)
  end
  log(('%s says: %s'):format(vim.lsp.get_client_by_id(ctx.client_id).name, result.message))
end
vim.lsp.enable({ 'loopsafe', 'ruff' })

-- loopsafe's log messages, by type (window/logMessage).
local logged = {}
vim.lsp.handlers['window/logMessage'] = function(_, result, ctx)
  if vim.lsp.get_client_by_id(ctx.client_id).name == 'loopsafe' then
    table.insert(logged, result)
  end
end

-- The module whose only finding is a chain through app/services.py.
local api_file = project .. '/app/stock_api.py'
vim.fn.writefile({
  '"""Stock levels, from the inventory service."""',
  '',
  'from fastapi import APIRouter',
  '',
  'from app import services',
  '',
  'router = APIRouter()',
  '',
  '',
  '@router.get("/stock")',
  'async def stock(skus: str) -> dict[str, int]:',
  '    return services.stock_summary(skus.split(","))',
}, api_file)
local chain_line = 11 -- 0-based: the `return services.stock_summary(...)` line
local services_file = project .. '/app/services.py'
local services_lines = vim.fn.readfile(services_file)
local function line_of(lines, needle)
  for i, l in ipairs(lines) do
    if l:find(needle, 1, true) then
      return i
    end
  end
end
local call_line = line_of(services_lines, 'fetch_stock(sku) for sku') -- 1-based
local get_line = line_of(services_lines, 'requests.get(')
check(call_line and get_line, 'app/services.py no longer calls fetch_stock and requests.get')

-- The current loopsafe client's diagnostics (the servers of earlier opens left theirs for closed
-- files, from workspace reports, in their own namespaces).
local function diags_of(b, code)
  local c = vim.lsp.get_clients({ name = 'loopsafe' })[1]
  if not c then
    return {}
  end
  local ns = vim.lsp.diagnostic.get_namespace(c.id, true, 'loopsafe')
  return vim.tbl_filter(function(d)
    return d.source == 'loopsafe' and (code == nil or d.code == code)
  end, vim.diagnostic.get(b, { namespace = ns }))
end
local function summary(b)
  return table.concat(
    vim.tbl_map(function(x)
      return ('%s@%d:%d'):format(x.code, x.lnum + 1, x.col + 1)
    end, diags_of(b)),
    ' '
  )
end
local function client(b, name)
  return vim.lsp.get_clients({ bufnr = b, name = name })[1]
end
local function open(path)
  vim.cmd.edit(vim.fn.fnameescape(path))
  local b = vim.api.nvim_get_current_buf()
  check(vim.bo[b].filetype == 'python', path .. ' did not get filetype python: ' .. vim.bo[b].filetype)
  check(
    vim.wait(TIMEOUT, function()
      return client(b, 'loopsafe') ~= nil and client(b, 'loopsafe').initialized
    end, 50),
    'loopsafe did not attach to ' .. path
  )
  return b
end
-- The chain finding at `services.stock_summary(...)`: the file's only loopsafe finding.
local function chain_diags(b)
  return vim.tbl_filter(function(d)
    return d.lnum == chain_line and d.code == 'LS101'
  end, diags_of(b))
end
local WAIT_CHAIN = 10000

-- 1. Opened OPENS times, each time with a new server: the chain is there without any edit.
local OPENS = tonumber(os.getenv('LOOPSAFE_TEST_OPENS') or '') or 5
local buf
for i = 1, OPENS do
  buf = open(api_file)
  local ok = vim.wait(WAIT_CHAIN, function()
    return #chain_diags(buf) == 1
  end, 50)
  check(ok, ('open %d of %d: no chain finding at line %d of stock_api.py within %d ms without an edit; loopsafe: %s'):format(
    i, OPENS, chain_line + 1, WAIT_CHAIN, summary(buf)))
  check(#diags_of(buf) == 1, 'stock_api.py has other loopsafe findings than the chain: ' .. summary(buf))
  if i < OPENS then
    for _, c in ipairs(vim.lsp.get_clients()) do
      c:stop(true)
    end
    vim.wait(TIMEOUT, function()
      return #vim.lsp.get_clients() == 0
    end, 50)
    vim.cmd('bwipeout! ' .. buf)
  end
end
local chain = chain_diags(buf)[1]
log(('chain finding seen on each of %d opens without an edit: %s'):format(OPENS, chain.message))
check(not chain.message:find('`', 1, true), 'the message shows raw backticks: ' .. chain.message)
local ls = client(buf, 'loopsafe')
check(ls.root_dir == project, 'root_dir is ' .. tostring(ls.root_dir) .. ', expected ' .. project)

-- 2. The hover: each step `name — path:line`, numbered once, the finding's own line not repeated, and the
-- advice naming the offloader the quick fix writes in a FastAPI file.
vim.api.nvim_win_set_cursor(0, { chain.lnum + 1, chain.col })
local hover = vim.lsp.buf_request_sync(buf, 'textDocument/hover', vim.lsp.util.make_position_params(0, ls.offset_encoding), TIMEOUT)
local text = ''
for id, r in pairs(hover or {}) do
  if id == ls.id and r.result then
    text = r.result.contents.value or ''
  end
end
log('hover:\n' .. text)
local function has(needle, what)
  check(text:find(needle, 1, true), ('the hover lacks %s (%q):\n%s'):format(what, needle, text))
end
has(('1. `services.fetch_stock` — app/services.py:%d'):format(call_line), 'the first step with its file and line')
has(('2. `requests.get` — app/services.py:%d'):format(get_line), 'the blocking call with its file and line')
has('run_in_threadpool', 'the offloader the quick fix writes')
check(not text:find('stock_api.py:', 1, true), "the hover repeats the finding's own line:\n" .. text)
check(not text:find('%d+%. %d+:'), 'the hover numbers the steps twice:\n' .. text)

-- 3. app/services.py edited in another window, unsaved: the finding goes from stock_api.py, untouched,
-- and comes back when the edit is undone.
vim.cmd('split ' .. vim.fn.fnameescape(services_file))
local sbuf = vim.api.nvim_get_current_buf()
check(vim.wait(TIMEOUT, function()
  return client(sbuf, 'loopsafe') ~= nil
end, 50), 'loopsafe did not attach to services.py')
vim.wait(500)
local original = vim.api.nvim_buf_get_lines(sbuf, get_line - 1, get_line, false)[1]
local indent = original:match('^%s*')
vim.api.nvim_buf_set_lines(sbuf, get_line - 1, get_line, false, { indent .. 'response = inventory_response(sku)' })
check(
  vim.wait(WAIT_CHAIN, function()
    return #chain_diags(buf) == 0
  end, 50),
  'after services.py stopped calling requests.get (unsaved), stock_api.py still has ' .. summary(buf)
)
log('services.py edited (unsaved): the chain finding went from stock_api.py')
vim.api.nvim_buf_set_lines(sbuf, get_line - 1, get_line, false, { original })
check(
  vim.wait(WAIT_CHAIN, function()
    return #chain_diags(buf) == 1
  end, 50),
  'after the edit of services.py was undone, stock_api.py has ' .. summary(buf)
)
log('edit undone: the chain finding is back')
vim.cmd('close')

-- 3b. app/services.py closed, then changed on disk by another program (as `git checkout` does): Neovim
-- on Linux does not watch files for servers, so loopsafe watches them itself; the finding goes from
-- stock_api.py without touching it, and comes back when the file is restored.
vim.cmd('bwipeout! ' .. sbuf)
local function write_services(lines)
  local tmp = services_file .. '.tmp'
  vim.fn.writefile(lines, tmp)
  check(os.rename(tmp, services_file), 'cannot replace ' .. services_file)
end
local changed = vim.deepcopy(services_lines)
changed[get_line] = indent .. 'response = inventory_response(sku)'
write_services(changed)
check(
  vim.wait(WAIT_CHAIN, function()
    return #chain_diags(buf) == 0
  end, 50),
  'after services.py (closed) stopped calling requests.get on disk, stock_api.py still has ' .. summary(buf)
)
log('services.py changed on disk while closed: the chain finding went from stock_api.py')
write_services(services_lines)
check(
  vim.wait(WAIT_CHAIN, function()
    return #chain_diags(buf) == 1
  end, 50),
  'after services.py was restored on disk, stock_api.py has ' .. summary(buf)
)
log('services.py restored on disk: the chain finding is back')

-- 4. The preferred fix from the menu a user sees (every server's actions at the cursor), applied.
vim.api.nvim_set_current_buf(buf)
vim.api.nvim_win_set_cursor(0, { chain.lnum + 1, chain.col })
local params = vim.lsp.util.make_range_params(0, ls.offset_encoding)
params.context = { diagnostics = { chain.user_data.lsp } }
local all = vim.lsp.buf_request_sync(buf, 'textDocument/codeAction', params, TIMEOUT) or {}
local preferred = {}
for id, r in pairs(all) do
  for _, a in ipairs(r.result or {}) do
    log(('  action (%s): %s%s'):format(vim.lsp.get_client_by_id(id).name, a.title, a.isPreferred and ' (preferred)' or ''))
    check(not a.title:find('`', 1, true) or id ~= ls.id, 'an action title shows raw backticks: ' .. a.title)
    if a.isPreferred then
      table.insert(preferred, a)
    end
  end
end
check(#preferred == 1, ('%d preferred actions in the menu, expected 1'):format(#preferred))
local title = preferred[1].title
vim.lsp.buf.code_action({
  context = { diagnostics = { chain.user_data.lsp } },
  filter = function(a)
    return a.isPreferred == true
  end,
  apply = true,
})
check(
  vim.wait(TIMEOUT, function()
    return table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n'):find('await run_in_threadpool(', 1, true) ~= nil
  end, 50),
  ('after "%s", the buffer is:\n%s'):format(title, table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n'))
)
vim.cmd('silent write')
local disk = table.concat(vim.fn.readfile(api_file), '\n')
check(disk:find('from fastapi.concurrency import run_in_threadpool', 1, true), 'the written file lacks the import:\n' .. disk)
check(disk:find('return await run_in_threadpool(services.stock_summary, skus.split(","))', 1, true), 'the written file has:\n' .. disk)
check(vim.fn.system({ 'python3', '-m', 'py_compile', api_file }) == '' and vim.v.shell_error == 0, 'the fixed file does not compile')
check(vim.wait(TIMEOUT, function()
  return #diags_of(buf) == 0
end, 50), 'after the fix, stock_api.py still has ' .. summary(buf))
log(('applied "%s" from the menu: on disk, and the finding is gone'):format(title))

-- 5. main.py: LS102 at the `time.sleep(1)` beside ruff's ASYNC251; its preferred fix applied.
check(vim.fn.executable('ruff') == 1, 'ruff is not installed (the sid chroot installs it)')
local file = project .. '/app/main.py'
buf = open(file)
check(vim.wait(TIMEOUT, function()
  return client(buf, 'ruff') ~= nil
end, 50), 'ruff did not attach to main.py')
local lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
local want_line, want_col
for i, l in ipairs(lines) do
  local col = l:find('time.sleep(1)', 1, true)
  if col then
    want_line, want_col = i - 1, col - 1
    break
  end
end
check(want_line ~= nil, 'the example no longer contains time.sleep(1)')
check(vim.wait(TIMEOUT, function()
  return #diags_of(buf, 'LS102') > 0
end, 50), 'no LS102 diagnostic in main.py; loopsafe: ' .. summary(buf))
local sleeps = diags_of(buf, 'LS102')
check(#sleeps == 1, 'expected exactly one LS102 diagnostic: ' .. summary(buf))
local d = sleeps[1]
check(d.lnum == want_line and d.col == want_col, ('LS102 at %d:%d, expected %d:%d'):format(d.lnum + 1, d.col + 1, want_line + 1, want_col + 1))
check(not d.message:find('`', 1, true), 'the message shows raw backticks: ' .. d.message)
local function ruff_diags(code)
  return vim.tbl_filter(function(x)
    return x.source == 'Ruff' and (code == nil or x.code == code)
  end, vim.diagnostic.get(buf))
end
check(vim.wait(TIMEOUT, function()
  return #ruff_diags('ASYNC251') > 0
end, 50), "ruff's ASYNC251 diagnostic is missing beside loopsafe's")
local r = ruff_diags('ASYNC251')[1]
check(r.lnum == d.lnum and r.col == d.col, ('ruff reports ASYNC251 at %d:%d'):format(r.lnum + 1, r.col + 1))
vim.api.nvim_win_set_cursor(0, { d.lnum + 1, d.col })
vim.lsp.buf.code_action({
  filter = function(a)
    return a.isPreferred == true
  end,
  apply = true,
})
local want_text = lines[want_line + 1]:gsub('time%.sleep%(1%)', 'await asyncio.sleep(1)')
check(vim.wait(TIMEOUT, function()
  return vim.api.nvim_buf_get_lines(buf, want_line, want_line + 1, false)[1] == want_text
end, 50), ('after the preferred fix, line %d is %q'):format(want_line + 1, vim.api.nvim_buf_get_lines(buf, want_line, want_line + 1, false)[1]))
vim.cmd('silent write')
check(vim.fn.readfile(file)[want_line + 1] == want_text, 'the written main.py differs')
check(vim.wait(TIMEOUT, function()
  return #diags_of(buf, 'LS102') == 0
end, 50), 'after the fix, loopsafe diagnostics are ' .. summary(buf))
check(#ruff_diags('ASYNC210') > 0, "ruff's other diagnostics went")
log('main.py: the time.sleep fix applied; LS102 gone, ruff still reports ASYNC210')

-- Log messages: loopsafe's info (the index summary) arrives as Info, not Error.
local index_log
for _, m in ipairs(logged) do
  if m.message:find('indexed %d+ files') then
    index_log = m
  end
end
check(index_log ~= nil, 'loopsafe sent no window/logMessage for its index summary')
check(index_log.type == vim.lsp.protocol.MessageType.Info, ('the info message "%s" came as type %d'):format(index_log.message, index_log.type))
check(#shown_errors == 0, 'the server reported errors: ' .. table.concat(shown_errors, '; '))
log('PASS')
finish(0)
