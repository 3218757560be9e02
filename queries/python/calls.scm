; Every call. Its callee and argument list are the node's `function` and `arguments` fields, read in
; Rust. Patterns here name one node each: a pattern with several child steps keeps a cursor state open
; across its first child's subtree, which makes the query quadratic on `f()()()...` or `a.b.b.b...`.
(call) @call

; Attribute reads: `obj.total` runs a function when `total` is a `@property`.
(attribute) @attribute
