;; From WebAssembly/component-model, test/values/numerics.wast, lines 167-192.
(component
  (component $C
    (core module $M (func (export "take") (param i32)))
    (core instance $m (instantiate $M))
    (func (export "take") (param "x" char) (canon lift (core func $m "take")))
  )
  (component $D
    (import "take" (func $take (param "x" char)))
    (core func $take' (canon lower (func $take)))
    (core module $M
      (import "" "take" (func $take (param i32)))
      (func (export "run-d800") (call $take (i32.const 0xd800)))
      (func (export "run-dfff") (call $take (i32.const 0xdfff)))
      (func (export "run-too-big") (call $take (i32.const 0x110000)))
    )
    (core instance $m (instantiate $M (with "" (instance (export "take" (func $take'))))))
    (func (export "run-d800") (canon lift (core func $m "run-d800")))
    (func (export "run-dfff") (canon lift (core func $m "run-dfff")))
    (func (export "run-too-big") (canon lift (core func $m "run-too-big")))
  )
  (instance $c (instantiate $C))
  (instance $d (instantiate $D (with "take" (func $c "take"))))
  (func (export "run-d800") (alias export $d "run-d800"))
  (func (export "run-dfff") (alias export $d "run-dfff"))
  (func (export "run-too-big") (alias export $d "run-too-big"))
)
