;; From WebAssembly/component-model, test/values/realloc.wast, lines 70-92.
(component
  (component $C
    (core module $CM
      (memory (export "mem") 1)
      (func (export "realloc") (param i32 i32 i32 i32) (result i32) (i32.const 2))
      (func (export "f") (param i32 i32)))
    (core instance $cm (instantiate $CM))
    (func (export "f") (param "a" (list u32))
      (canon lift (core func $cm "f") (memory (core memory $cm "mem")) (realloc (core func $cm "realloc")))))
  (component $D
    (import "f" (func $f (param "a" (list u32))))
    (core module $Memory (memory (export "mem") 1))
    (core instance $memory (instantiate $Memory))
    (core func $f' (canon lower (func $f) (memory (core memory $memory "mem"))))
    (core module $DM
      (import "" "f" (func $f' (param i32 i32)))
      (func (export "run") (call $f' (i32.const 8) (i32.const 1))))
    (core instance $dm (instantiate $DM (with "" (instance (export "f" (func $f'))))))
    (func (export "run") (canon lift (core func $dm "run"))))
  (instance $c (instantiate $C))
  (instance $d (instantiate $D (with "f" (func $c "f"))))
  (func (export "run") (alias export $d "run"))
)
