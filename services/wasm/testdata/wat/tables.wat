;; Table instructions whose cost grows with their length operand, for the
;; fuel tests: called as exported functions, not run as a command.
(module
  (table $t 0 funcref)
  (table $u 16 funcref)
  (elem $e func $nop $nop $nop $nop $nop $nop $nop $nop)
  (func $nop)
  ;; (grow n) = table.grow of $t by n, the old size or -1
  (func (export "grow") (param $n i32) (result i32)
    (table.grow $t (ref.null func) (local.get $n)))
  (func (export "fill") (param $n i32)
    (table.fill $u (i32.const 0) (ref.null func) (local.get $n)))
  (func (export "copy") (param $n i32)
    (table.copy $u $u (i32.const 8) (i32.const 0) (local.get $n)))
  (func (export "init") (param $n i32)
    (table.init $u $e (i32.const 0) (i32.const 0) (local.get $n)))
  (func (export "size") (result i32)
    (table.size $t))
)
