;; Calls a host function (linked by the test) that blocks until its
;; context is done.
(module
  (import "icn" "wait" (func $wait (result i32)))
  (func (export "wait") (result i32)
    (call $wait))
)
