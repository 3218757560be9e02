; Every call: the callee expression and the argument list.
(call
  function: (_) @call.func
  arguments: (_) @call.args) @call

; Attribute reads: `obj.total` runs a function when `total` is a `@property`.
(attribute
  object: (_)
  attribute: (identifier)) @attribute
