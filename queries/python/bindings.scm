; Assignments: `x = value`, `x: T = value`, `x: T`, `self.x = value`, `a, b = value`.
(assignment
  left: (_) @assign.target
  type: (type)? @assign.type
  right: (_)? @assign.value) @assign

; Walrus: `(x := value)`
(named_expression
  name: (identifier) @assign.target
  value: (_) @assign.value) @assign

; `with value as target`, `async with value as target`
(with_item
  value: (as_pattern
    (_) @with.value
    alias: (as_pattern_target (_) @with.target))) @with

; Loop targets and exception names bind values the analysis cannot type.
(for_statement left: (_) @unknown.target)
; (Any `as` target: those of `with` items are bound by the pattern above, and the analysis leaves them out
; here; `(except_clause (as_pattern ...))` would stay open across every `except` body.)
(as_pattern alias: (as_pattern_target (_) @unknown.target))

; `global x` in a function makes its bindings of `x` module-level.
(global_statement (identifier) @global.name)

; Parameters, with their annotation when there is one. `@param.list` is the `parameters` node, which
; ties a parameter to its function.
[(parameters (identifier) @param.name)
 (lambda_parameters (identifier) @param.name)] @param.list
[(parameters (default_parameter name: (identifier) @param.name))
 (lambda_parameters (default_parameter name: (identifier) @param.name))] @param.list
(parameters (typed_parameter (identifier) @param.name type: (type) @param.type)) @param.list
(parameters (typed_default_parameter name: (identifier) @param.name type: (type) @param.type)) @param.list
[(parameters (list_splat_pattern (identifier) @param.name))
 (parameters (dictionary_splat_pattern (identifier) @param.name))
 (parameters (typed_parameter [(list_splat_pattern (identifier) @param.name)
                               (dictionary_splat_pattern (identifier) @param.name)]))
 (lambda_parameters (list_splat_pattern (identifier) @param.name))
 (lambda_parameters (dictionary_splat_pattern (identifier) @param.name))] @param.list

; Entering a context manager runs its `__enter__` (`with lock:` acquires the lock). `async with` is
; captured too, so that the analysis can tell the two apart.
(with_statement
  "async"? @enter.async
  (with_clause (with_item value: (_) @enter.value))) @enter
