;; A list result outside memory, and one misaligned: wasmtime checks the
;; bounds first, then the alignment (the canonical ABI's `load_list_from_range`
;; traps on both, design/mvp/canonical-abi/definitions.py).
(component
  (core module $M
    (memory (export "mem") 1)
    (func (export "oob") (result i32)
      (i32.store (i32.const 0) (i32.const 65532))
      (i32.store (i32.const 4) (i32.const 2))
      (i32.const 0))
    (func (export "misaligned") (result i32)
      (i32.store (i32.const 0) (i32.const 18))
      (i32.store (i32.const 4) (i32.const 2))
      (i32.const 0)))
  (core instance $m (instantiate $M))
  (func (export "oob") (result (list u32)) (canon lift (core func $m "oob") (memory (core memory $m "mem"))))
  (func (export "misaligned") (result (list u32)) (canon lift (core func $m "misaligned") (memory (core memory $m "mem"))))
)
