;; From WebAssembly/component-model, test/values/realloc.wast, lines 114-122.
(component
  (core module $M
    (memory (export "mem") 1)
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) (i32.const -1))
    (func (export "f") (param i32 i32)))
  (core instance $m (instantiate $M))
  (func (export "f") (param "a" (list u32))
    (canon lift (core func $m "f") (memory (core memory $m "mem")) (realloc (core func $m "realloc"))))
)
