;; Exported functions that end with proc_exit, for the tests of
;; Engine.Call.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory 1)
  (func (export "exit_with_result") (param $code i32) (result i32)
    (call $exit (local.get $code))
    (i32.const 7))
  (func (export "exit") (param $code i32)
    (call $exit (local.get $code)))
  (func (export "answer") (result i32)
    (i32.const 42))
)
