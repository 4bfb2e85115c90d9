;; An empty infinite loop: only the loop-header check can stop it.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 80) "0123456789abcdef")
  ;; $read_n returns the first 8 bytes of stdin as a little-endian u64,
  ;; or $default when stdin holds fewer.
  (func $read_n (param $default i64) (result i64)
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 8))
    (i64.store (i32.const 64) (i64.const 0))
    (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 16)))
    (if (result i64) (i32.eq (i32.load (i32.const 16)) (i32.const 8))
      (then (i64.load (i32.const 64)))
      (else (local.get $default))))
  ;; $print_hex writes $v as 16 hex digits and a newline to stdout.
  (func $print_hex (param $v i64)
    (local $i i32)
    (local.set $i (i32.const 15))
    (loop $l
      (i32.store8 (i32.add (i32.const 32) (local.get $i))
        (i32.load8_u offset=80 (i32.wrap_i64 (i64.and (local.get $v) (i64.const 15)))))
      (local.set $v (i64.shr_u (local.get $v) (i64.const 4)))
      (br_if $l (i32.ge_s (local.tee $i (i32.sub (local.get $i) (i32.const 1))) (i32.const 0))))
    (i32.store8 (i32.const 48) (i32.const 10))
    (i32.store (i32.const 0) (i32.const 32))
    (i32.store (i32.const 4) (i32.const 17))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16))))
  (func (export "_start")
    (loop $l (br $l)))
)
