;; Sieve of Eratosthenes: the number of primes below N (stdin, default 100000); the sieve lives from offset 4096, memory grows to fit.
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
    (local $n i32) (local $i i32) (local $j i32) (local $count i32) (local $need i32)
    (local.set $n (i32.wrap_i64 (call $read_n (i64.const 100000))))
    ;; pages needed for 4096 + n bytes
    (local.set $need (i32.shr_u (i32.add (i32.add (local.get $n) (i32.const 4096)) (i32.const 65535)) (i32.const 16)))
    (if (i32.gt_u (local.get $need) (memory.size))
      (then (if (i32.eq (memory.grow (i32.sub (local.get $need) (memory.size))) (i32.const -1))
        (then (call $proc_exit (i32.const 2))))))
    ;; 1 = composite; memory.fill clears the sieve
    (memory.fill (i32.const 4096) (i32.const 0) (local.get $n))
    (local.set $i (i32.const 2))
    (block $outer_done
      (loop $outer
        (br_if $outer_done (i32.gt_u (i32.mul (local.get $i) (local.get $i)) (local.get $n)))
        (if (i32.eqz (i32.load8_u offset=4096 (local.get $i)))
          (then
            (local.set $j (i32.mul (local.get $i) (local.get $i)))
            (block $inner_done
              (loop $inner
                (br_if $inner_done (i32.ge_u (local.get $j) (local.get $n)))
                (i32.store8 offset=4096 (local.get $j) (i32.const 1))
                (local.set $j (i32.add (local.get $j) (local.get $i)))
                (br $inner)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))
    (local.set $i (i32.const 2))
    (block $cd
      (loop $c
        (br_if $cd (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $count (i32.add (local.get $count) (i32.eqz (i32.load8_u offset=4096 (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $c)))
    (call $print_hex (i64.extend_i32_u (local.get $count))))
)
