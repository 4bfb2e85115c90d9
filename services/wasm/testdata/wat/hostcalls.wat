;; Calls the WASI functions that are charged by the size of their
;; arguments, directly and through a table, for the fuel tests: called as
;; exported functions, not run as a command. Buffers start at 1024, iovec
;; arrays at 65536.
(module
  (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (type $random_type (func (param i32 i32) (result i32)))
  (memory (export "memory") 2)
  (table 2 funcref)
  (elem (i32.const 0) $random_get $fd_write)
  ;; (random n) fills n bytes at 1024
  (func (export "random") (param $n i32) (result i32)
    (call $random_get (i32.const 1024) (local.get $n)))
  (func (export "random_indirect") (param $n i32) (result i32)
    (call_indirect (type $random_type) (i32.const 1024) (local.get $n) (i32.const 0)))
  ;; (iovecs n len) makes n iovecs of len bytes at 1024
  (func (export "iovecs") (param $n i32) (param $len i32)
    (local $i i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store (i32.add (i32.const 65536) (i32.shl (local.get $i) (i32.const 3))) (i32.const 1024))
        (i32.store offset=4 (i32.add (i32.const 65536) (i32.shl (local.get $i) (i32.const 3))) (local.get $len))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l))))
  ;; (write n) writes the first n iovecs to stdout, (read n) reads stdin
  ;; into them
  (func (export "write") (param $n i32) (result i32)
    (call $fd_write (i32.const 1) (i32.const 65536) (local.get $n) (i32.const 16)))
  (func (export "read") (param $n i32) (result i32)
    (call $fd_read (i32.const 0) (i32.const 65536) (local.get $n) (i32.const 16)))
  ;; (poll n) polls n zeroed subscriptions (relative realtime clocks, no
  ;; timeout) at 65536
  (func (export "poll") (param $n i32) (result i32)
    (call $poll_oneoff (i32.const 65536) (i32.const 98304) (local.get $n) (i32.const 16)))
)
