; `import a.b`, `import a.b as c`
(import_statement
  name: (dotted_name) @import.name) @import

(import_statement
  name: (aliased_import
    name: (dotted_name) @import.name
    alias: (identifier) @import.alias)) @import

; `from m import a`, `from m import a as b`, `from . import a`, `from m import *`
(import_from_statement
  module_name: (_) @from.module
  name: (dotted_name) @from.name) @from

(import_from_statement
  module_name: (_) @from.module
  name: (aliased_import
    name: (dotted_name) @from.name
    alias: (identifier) @from.alias)) @from

(import_from_statement
  module_name: (_) @from.module
  (wildcard_import) @from.star) @from
