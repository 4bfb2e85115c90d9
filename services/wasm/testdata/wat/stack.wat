;; Two recursive functions with no locals, one with an operand stack two
;; deep, one 32 deep, for the test of the stack budget: each counts its
;; frames in the exported global $depth.
(module
  (global $depth (export "depth") (mut i32) (i32.const 0))
  (func $shallow (export "shallow")
    global.get $depth
    i32.const 1
    i32.add
    global.set $depth
    call $shallow)
  (func $deep (export "deep")
    global.get $depth
    i32.const 1
    i32.add
    global.set $depth
    i64.const 0
    i64.const 1
    i64.const 2
    i64.const 3
    i64.const 4
    i64.const 5
    i64.const 6
    i64.const 7
    i64.const 8
    i64.const 9
    i64.const 10
    i64.const 11
    i64.const 12
    i64.const 13
    i64.const 14
    i64.const 15
    i64.const 16
    i64.const 17
    i64.const 18
    i64.const 19
    i64.const 20
    i64.const 21
    i64.const 22
    i64.const 23
    i64.const 24
    i64.const 25
    i64.const 26
    i64.const 27
    i64.const 28
    i64.const 29
    i64.const 30
    i64.const 31
    call $deep
    drop
    drop
    drop
    drop
    drop
    drop
    drop
    drop
    drop
    drop
    drop
    drop
    drop
    drop
    drop
    drop
    drop
    drop
    drop
    drop
    drop
    drop
    drop
    drop
    drop
    drop
    drop
    drop
    drop
    drop
    drop
    drop)
)
