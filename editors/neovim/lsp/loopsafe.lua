-- loopsafe: blocking calls reached from Python coroutines, as diagnostics with code actions.
--
-- Neovim 0.11+: put this file in an `lsp/` directory on the runtimepath (for example
-- ~/.config/nvim/lsp/loopsafe.lua) and call `vim.lsp.enable('loopsafe')`. Change any field with
-- `vim.lsp.config('loopsafe', { ... })`. It attaches beside other Python servers (pyright, basedpyright,
-- ruff, ...): Neovim starts every enabled configuration whose filetypes match the buffer.
--
-- Settings are the keys of [tool.loopsafe] in pyproject.toml (select, extend-select, ignore, exclude,
-- severity, extend-blocking-calls, offload). Left unset, the project's pyproject.toml is used.
-- Set them either
--   * in `init_options` (read once at start; each key overrides the same key of the project's
--     [tool.loopsafe] table, the others stay), or
--   * in `settings.loopsafe` (sent after start with workspace/didChangeConfiguration; same effect),
-- for example:
--   vim.lsp.config('loopsafe', {
--     settings = { loopsafe = {
--       ['extend-select'] = { 'async-without-await' },
--       ignore = { 'blocking-file' },
--       severity = { ['blocking-wait'] = 'warning' },
--       ['extend-blocking-calls'] = { ['legacy_sdk.fetch_report'] = 'blocking-custom' },
--     } },
--   })

---@type vim.lsp.Config
return {
  cmd = { 'loopsafe', 'server' },
  filetypes = { 'python' },
  root_markers = { 'pyproject.toml', 'setup.cfg', '.git' },
  -- None given: the project's pyproject.toml decides. (vim.empty_dict(): an empty Lua table would be
  -- sent as a JSON array, which is not a table of settings.)
  settings = { loopsafe = vim.empty_dict() },
}
