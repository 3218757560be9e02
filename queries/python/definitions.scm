; Scopes: functions and coroutines (`async def`), lambdas and classes. The analysis uses the body's byte
; range as the scope: parameters' defaults and decorators are evaluated in the enclosing scope.

(function_definition
  "async"? @def.async
  name: (identifier) @def.name
  parameters: (parameters) @def.params
  return_type: (type)? @def.returns
  body: (block) @def.body) @def

(lambda
  parameters: (lambda_parameters)? @lambda.params
  body: (_) @lambda.body) @lambda

(class_definition
  name: (identifier) @class.name
  superclasses: (argument_list)? @class.bases
  body: (block) @class.body) @class

(decorated_definition
  (decorator (_) @decorator)
  definition: (_) @decorated)

; Statements that make a coroutine "await": `await`, `async for`, `async with`, async comprehensions
; (every `async` keyword but that of `async def`, which the analysis leaves out: a pattern such as
; `(for_statement "async")` would stay open across every plain `for`'s body).
(await) @await
"async" @await

; A `yield` makes a function a generator.
(yield) @yield
