; Every call: the callee expression and the argument list.
(call
  function: (_) @call.func
  arguments: (_) @call.args) @call
