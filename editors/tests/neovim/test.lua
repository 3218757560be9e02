-- End-to-end test of the shipped Neovim configuration (editors/neovim/lsp/loopsafe.lua) in real Neovim:
--   nvim --headless -l editors/tests/neovim/test.lua        (from the repository root, Neovim 0.11+)
-- The server binary comes from LOOPSAFE_BIN (default ./target/release/loopsafe). It opens a copy of the
-- example FastAPI app, waits for loopsafe's `time.sleep` diagnostic (LS102) at its line and column,
-- lists the code actions there, applies the preferred quickfix the way a user would
-- (vim.lsp.buf.code_action), writes the file, and checks the new text and that the diagnostic is gone.
-- ruff's language server is attached to the same buffer the whole time, to check that the two coexist
-- (both report the `time.sleep`; each keeps its own diagnostics and code actions). Exits 1 with a message on the first failure.

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
local file = project .. '/app/main.py'

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

vim.cmd.edit(vim.fn.fnameescape(file))
local buf = vim.api.nvim_get_current_buf()
check(vim.bo[buf].filetype == 'python', 'main.py did not get filetype python: ' .. vim.bo[buf].filetype)

local function client(name)
  return vim.lsp.get_clients({ bufnr = buf, name = name })[1]
end
check(
  vim.wait(TIMEOUT, function()
    return client('loopsafe') ~= nil and client('loopsafe').initialized and client('ruff') ~= nil
  end, 50),
  'loopsafe and ruff did not both attach to the buffer'
)
local ls = client('loopsafe')
check(ls.root_dir == project, 'root_dir is ' .. tostring(ls.root_dir) .. ', expected ' .. project)
log(('attached: loopsafe (root %s, encoding %s) and ruff'):format(ls.root_dir, ls.offset_encoding))

-- The expected place: the `time.sleep(1)` in the coroutine `retry_payment` (0-based line and byte
-- column, as vim.diagnostic has them). The `time.sleep(0.1)` in the sync route is not a finding.
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

local function loopsafe_diags(code)
  return vim.tbl_filter(function(d)
    return d.source == 'loopsafe' and (code == nil or d.code == code)
  end, vim.diagnostic.get(buf))
end
local function summary()
  return table.concat(
    vim.tbl_map(function(x)
      return ('%s@%d:%d'):format(x.code, x.lnum + 1, x.col + 1)
    end, loopsafe_diags()),
    ' '
  )
end

check(
  vim.wait(TIMEOUT, function()
    return #loopsafe_diags('LS102') > 0
  end, 50),
  'no LS102 diagnostic from loopsafe within ' .. TIMEOUT .. ' ms; loopsafe diagnostics: ' .. summary()
)
local sleeps = loopsafe_diags('LS102')
check(#sleeps == 1, 'expected exactly one LS102 diagnostic: ' .. summary())
local d = sleeps[1]
check(
  d.lnum == want_line and d.col == want_col,
  ('LS102 at line %d column %d, expected line %d column %d'):format(d.lnum + 1, d.col + 1, want_line + 1, want_col + 1)
)
log(('LS102 at %d:%d: %s'):format(d.lnum + 1, d.col + 1, d.message))
check(#shown_errors == 0, 'the server reported errors: ' .. table.concat(shown_errors, '; '))

-- ruff reports the same call (ASYNC251) in its own namespace, beside loopsafe's.
local function ruff_diags(code)
  return vim.tbl_filter(function(x)
    return x.source == 'Ruff' and (code == nil or x.code == code)
  end, vim.diagnostic.get(buf))
end
check(
  vim.wait(TIMEOUT, function()
    return #ruff_diags('ASYNC251') > 0
  end, 50),
  "ruff's ASYNC251 diagnostic is missing beside loopsafe's"
)
local r = ruff_diags('ASYNC251')[1]
check(r.lnum == d.lnum and r.col == d.col, ('ruff reports ASYNC251 at %d:%d'):format(r.lnum + 1, r.col + 1))
check(r.namespace ~= d.namespace, 'loopsafe and ruff share a diagnostic namespace')
log(('ruff: ASYNC251 at %d:%d beside it'):format(r.lnum + 1, r.col + 1))

-- The code actions at the diagnostic, as the client would ask for them (the diagnostic with its data).
check(
  ls.server_capabilities.codeActionProvider,
  'this loopsafe build does not offer code actions (no codeActionProvider in its capabilities)'
)
vim.api.nvim_win_set_cursor(0, { d.lnum + 1, d.col })
local params = vim.lsp.util.make_range_params(0, ls.offset_encoding)
params.context = { diagnostics = { d.user_data.lsp }, only = { 'quickfix' } }
local resp = ls:request_sync('textDocument/codeAction', params, TIMEOUT, buf)
check(resp ~= nil, 'textDocument/codeAction timed out')
check(resp.err == nil, 'textDocument/codeAction failed: ' .. vim.inspect(resp.err))
local actions = resp.result or {}
check(#actions > 0, 'loopsafe offered no code action at the LS102 diagnostic (does this build have code actions?)')
local preferred
for _, a in ipairs(actions) do
  log(('  action: %s%s'):format(a.title, a.isPreferred and ' (preferred)' or ''))
  if a.isPreferred then
    check(preferred == nil, 'more than one preferred action')
    preferred = a
  end
end
check(preferred ~= nil, 'no preferred code action among ' .. #actions)
check(preferred.kind == 'quickfix', 'the preferred action is of kind ' .. tostring(preferred.kind))

-- Apply it the way a user does: vim.lsp.buf.code_action() at the cursor (it asks both servers), choosing
-- loopsafe's preferred title.
local title = preferred.title
vim.lsp.buf.code_action({
  context = { only = { 'quickfix' } },
  filter = function(a)
    return a.title == title
  end,
  apply = true,
})
local want_text = lines[want_line + 1]:gsub('time%.sleep%(1%)', 'await asyncio.sleep(1)')
check(
  vim.wait(TIMEOUT, function()
    return vim.api.nvim_buf_get_lines(buf, want_line, want_line + 1, false)[1] == want_text
  end, 50),
  ('after "%s", line %d is %q, expected %q'):format(
    title,
    want_line + 1,
    vim.api.nvim_buf_get_lines(buf, want_line, want_line + 1, false)[1],
    want_text
  )
)
vim.cmd('silent write')
local on_disk = vim.fn.readfile(file)
check(on_disk[want_line + 1] == want_text, 'the written file has ' .. tostring(on_disk[want_line + 1]))
check(vim.fn.system({ 'python3', '-m', 'py_compile', file }) == '' and vim.v.shell_error == 0, 'the fixed file does not compile')
log(('applied "%s": line %d is now %q'):format(title, want_line + 1, want_text))

-- The diagnostic goes; the `requests.get` one (LS101) stays: the server is still analysing this buffer.
check(
  vim.wait(TIMEOUT, function()
    return #loopsafe_diags('LS102') == 0 and #loopsafe_diags('LS101') > 0
  end, 50),
  'after the fix, loopsafe diagnostics are ' .. summary()
)
check(client('ruff') ~= nil and client('loopsafe') ~= nil, 'a client detached during the test')
check(#ruff_diags('ASYNC210') > 0, "ruff's other diagnostics went too")
log('LS102 is gone; loopsafe still reports ' .. summary() .. '; ruff still reports ASYNC210')
check(#shown_errors == 0, 'the server reported errors: ' .. table.concat(shown_errors, '; '))
log('PASS')
finish(0)
