;; A function shaped as Go's compiler shapes every function: its basic
;; blocks sit in a loop whose header dispatches on a local ($pc) through a
;; br_table, and a jump sets $pc to a constant and branches to the loop.
;; The fuel rewriter moves the charges of such blocks into the jumps that
;; reach them; this module checks that the fuel used stays exact, for
;; every way into the dispatch: $pc = 0 (a call), other entries (Go's
;; resumption) and the default. It prints $count's result for each, for
;; N (stdin, default 1000) iterations.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 80) "0123456789abcdef")
  (func $read_n (param $default i64) (result i64)
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 8))
    (i64.store (i32.const 64) (i64.const 0))
    (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 16)))
    (if (result i64) (i32.eq (i32.load (i32.const 16)) (i32.const 8))
      (then (i64.load (i32.const 64)))
      (else (local.get $default))))
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
  ;; $count sums i*3 for odd i and i (plus 1 every 7th, plus 2 otherwise)
  ;; for even i, for i below $n, starting at block $pc.
  (func $count (param $pc i32) (param $n i64) (result i64)
    (local $i i64) (local $acc i64)
    loop $d
      block $b6
      block $b5
      block $b4
      block $b3
      block $b2
      block $b0
        local.get $pc
        br_table $b0 $b0 $b2 $b3 $b4 $b5 $b6
      end
      ;; PC 0 and 1: the start
      i64.const 0
      local.set $i
      i64.const 0
      local.set $acc
      end
      ;; PC 2: the loop's condition (falls in from the start)
      local.get $i
      local.get $n
      i64.ge_u
      if
        i32.const 5
        local.set $pc
        br $d
      end
      end
      ;; PC 3: the body, with an if-else and a block entered by br
      local.get $i
      i64.const 1
      i64.and
      i32.wrap_i64
      if
        local.get $acc
        local.get $i
        i64.const 3
        i64.mul
        i64.add
        local.set $acc
      else
        local.get $acc
        local.get $i
        i64.add
        local.set $acc
      end
      block $s
        local.get $i
        i64.const 7
        i64.rem_u
        i64.eqz
        if
          local.get $acc
          i64.const 1
          i64.add
          local.set $acc
          br $s
        end
        local.get $acc
        i64.const 2
        i64.add
        local.set $acc
      end
      end
      ;; PC 4: the increment, and the jump back (falls in from the body)
      local.get $i
      i64.const 1
      i64.add
      local.set $i
      i32.const 2
      local.set $pc
      br $d
      end
      ;; PC 5: the result
      local.get $acc
      return
      end
      ;; any other PC
      i64.const 12345
      return
    end
    unreachable)
  (func (export "_start")
    (local $n i64)
    (local.set $n (call $read_n (i64.const 1000)))
    (call $print_hex (call $count (i32.const 0) (local.get $n)))
    (call $print_hex (call $count (i32.const 1) (local.get $n)))
    (call $print_hex (call $count (i32.const 2) (local.get $n)))
    (call $print_hex (call $count (i32.const 3) (local.get $n)))
    (call $print_hex (call $count (i32.const 4) (local.get $n)))
    (call $print_hex (call $count (i32.const 5) (local.get $n)))
    (call $print_hex (call $count (i32.const 6) (local.get $n)))
    (call $print_hex (call $count (i32.const 99) (local.get $n))))
)
