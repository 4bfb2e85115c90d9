;; Locals of every renewed type carried round a loop long enough for
;; several refills (at back edges, and at a callee's entry), with NaN
;; payloads and negative zeros: the refills renew locals (fuel/code.go,
;; appendRenewals), which must keep every bit.
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
  ;; $mix folds its parameters' bits into one i64.
  (func $mix (param $a i32) (param $b i64) (param $c f32) (param $d f64) (result i64)
    (i64.xor
      (i64.xor (i64.extend_i32_u (local.get $a)) (i64.rotl (local.get $b) (i64.const 7)))
      (i64.xor (i64.shl (i64.extend_i32_u (i32.reinterpret_f32 (local.get $c))) (i64.const 3))
               (i64.reinterpret_f64 (local.get $d)))))
  (func (export "_start")
    (local $n i32) (local $i i32) (local $a i32) (local $b i64)
    (local $c f32) (local $d f64) (local $e f32) (local $f f64) (local $m i64)
    (local.set $n (i32.wrap_i64 (call $read_n (i64.const 300000))))
    (local.set $a (i32.const 7))
    (local.set $b (i64.const 0x123456789abcdef))
    (local.set $c (f32.const nan:0x200001))
    (local.set $d (f64.const -nan:0x8000000000001))
    (local.set $e (f32.const -0))
    (local.set $f (f64.const -0))
    (loop $l
      (local.set $a (i32.add (i32.mul (local.get $a) (i32.const 1664525)) (i32.const 1013904223)))
      (local.set $b (i64.xor (local.get $b) (i64.extend_i32_u (local.get $a))))
      (local.set $m (i64.add (local.get $m) (call $mix (local.get $a) (local.get $b) (local.get $c) (local.get $d))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    ;; the same without calls, so that the refills are the back edge's
    (local.set $i (i32.const 0))
    (loop $k
      (local.set $a (i32.add (i32.mul (local.get $a) (i32.const 1664525)) (i32.const 1013904223)))
      (local.set $b (i64.xor (local.get $b) (i64.extend_i32_u (local.get $a))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $k (i32.lt_u (local.get $i) (local.get $n))))
    (call $print_hex (i64.extend_i32_u (local.get $a)))
    (call $print_hex (local.get $b))
    (call $print_hex (i64.extend_i32_u (i32.reinterpret_f32 (local.get $c))))
    (call $print_hex (i64.reinterpret_f64 (local.get $d)))
    (call $print_hex (i64.extend_i32_u (i32.reinterpret_f32 (local.get $e))))
    (call $print_hex (i64.reinterpret_f64 (local.get $f)))
    (call $print_hex (local.get $m)))
)
