;; From WebAssembly/component-model, test/values/realloc.wast, lines 98-107.
(component
  (core module $M
    (memory (export "mem") 1)
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (i32.const -4))  ;; 4-aligned, so the bounds check is what trips
    (func (export "f") (param i32 i32)))
  (core instance $m (instantiate $M))
  (func (export "f") (param "a" (list u32))
    (canon lift (core func $m "f") (memory (core memory $m "mem")) (realloc (core func $m "realloc"))))
)
