;; Imports a function from outside WASI.
(module
  (import "env" "launch_missiles" (func $launch))
  (func (export "_start") (call $launch)))
