;; A guard (if cond { trap }) and what follows: the code after it is
;; charged with the code before it (cost table 3), so a run that traps at
;; the guard pays for the code after it too.
(module
  (func (export "short") (param i32) (result i32)
    local.get 0
    i32.eqz
    if
      unreachable
    end
    local.get 0)
  (func (export "long") (param i32) (result i32)
    local.get 0
    i32.eqz
    if
      unreachable
    end
    local.get 0
    i32.const 1
    i32.add
    i32.const 1
    i32.add
    i32.const 1
    i32.add
    i32.const 1
    i32.add))
