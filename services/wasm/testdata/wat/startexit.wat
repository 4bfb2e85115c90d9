;; A start function that calls proc_exit(0) before any export runs.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory 1)
  (func $init
    (call $exit (i32.const 0)))
  (start $init)
  (func (export "answer") (result i32)
    (i32.const 42))
  (func (export "_start"))
)
