;; A policy in the shape the CCL runtime calls: an exported function with
;; parameters and a result, a host import outside WASI, and a loop.
;; (check votes) = 1 when votes reach two thirds of the members.
(module
  (import "icn" "member_count" (func $members (result i64)))
  (func (export "check") (param $votes i64) (result i32)
    (local $i i64) (local $acc i64)
    ;; some work to meter: acc = sum of 0..votes-1
    (block $done
      (loop $l
        (br_if $done (i64.ge_u (local.get $i) (local.get $votes)))
        (local.set $acc (i64.add (local.get $acc) (local.get $i)))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $l)))
    (i64.ge_u (i64.mul (local.get $votes) (i64.const 3))
              (i64.mul (call $members) (i64.const 2)))))
