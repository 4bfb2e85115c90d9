;; Copies stdin to stdout in upper case (ASCII letters) and to stderr as it
;; is, 4 KiB at a time: an echo with a log, for the executor tests.
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; The iovec is at 0 (buffer at 1024), the count read at 16, written at 20.
  (func $write (param $fd i32) (param $n i32)
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (local.get $n))
    (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 20))))
  (func (export "_start")
    (local $n i32) (local $i i32) (local $c i32)
    (block $eof
      (loop $l
        (i32.store (i32.const 0) (i32.const 1024))
        (i32.store (i32.const 4) (i32.const 4096))
        (br_if $eof (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 16)))
        (local.set $n (i32.load (i32.const 16)))
        (br_if $eof (i32.eqz (local.get $n)))
        (call $write (i32.const 2) (local.get $n))
        (local.set $i (i32.const 0))
        (block $done
          (loop $u
            (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
            (local.set $c (i32.load8_u offset=1024 (local.get $i)))
            (if (i32.and (i32.ge_u (local.get $c) (i32.const 97)) (i32.le_u (local.get $c) (i32.const 122)))
              (then (i32.store8 offset=1024 (local.get $i) (i32.sub (local.get $c) (i32.const 32)))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $u)))
        (call $write (i32.const 1) (local.get $n))
        (br $l))))
)
