;; A borrow handle given to a callee that does not define the resource must
;; be dropped by it before it returns (the canonical ABI's `Task.return_`:
;; `trap_if(self.num_borrows > 0)`, design/mvp/canonical-abi/definitions.py).
;; $C defines R, $M receives borrows of it, $D owns the handle and lends it.
(component
  (component $C
    (type $R' (resource (rep i32)))
    (export $R "R" (type $R'))
    (canon resource.new $R' (core func $new))
    (core module $CM
      (import "" "new" (func $new (param i32) (result i32)))
      (func (export "make") (result i32) (call $new (i32.const 7))))
    (core instance $cm (instantiate $CM (with "" (instance (export "new" (func $new))))))
    (func (export "make") (result (own $R)) (canon lift (core func $cm "make")))
  )
  (component $M
    (import "c" (instance $c (export "R" (type (sub resource)))))
    (alias export $c "R" (type $R))
    (canon resource.drop $R (core func $drop))
    (core module $MM
      (import "" "drop" (func $drop (param i32)))
      (func (export "keep") (param i32))
      (func (export "drop") (param i32) (call $drop (local.get 0))))
    (core instance $mm (instantiate $MM (with "" (instance (export "drop" (func $drop))))))
    (func (export "keep") (param "r" (borrow $R)) (canon lift (core func $mm "keep")))
    (func (export "drop") (param "r" (borrow $R)) (canon lift (core func $mm "drop")))
  )
  (component $D
    (import "c" (instance $c
      (export "R" (type $R (sub resource)))
      (export "make" (func (result (own $R))))))
    (alias export $c "R" (type $R))
    (import "m" (instance $m
      (alias outer $D $R (type $R'))
      (export "keep" (func (param "r" (borrow $R'))))
      (export "drop" (func (param "r" (borrow $R'))))))
    (canon lower (func $c "make") (core func $make))
    (canon lower (func $m "keep") (core func $keep))
    (canon lower (func $m "drop") (core func $drop))
    (core module $DM
      (import "" "make" (func $make (result i32)))
      (import "" "keep" (func $keep (param i32)))
      (import "" "drop" (func $drop (param i32)))
      (func (export "lend-dropped") (result i32)
        (local $h i32)
        (local.set $h (call $make))
        (call $drop (local.get $h))
        (call $drop (local.get $h))
        (local.get $h))
      (func (export "lend-kept") (call $keep (call $make))))
    (core instance $dm (instantiate $DM (with "" (instance
      (export "make" (func $make))
      (export "keep" (func $keep))
      (export "drop" (func $drop))))))
    (func (export "lend-dropped") (result u32) (canon lift (core func $dm "lend-dropped")))
    (func (export "lend-kept") (canon lift (core func $dm "lend-kept")))
  )
  (instance $c (instantiate $C))
  (instance $m (instantiate $M (with "c" (instance $c))))
  (instance $d (instantiate $D (with "c" (instance $c)) (with "m" (instance $m))))
  (func (export "lend-dropped") (alias export $d "lend-dropped"))
  (func (export "lend-kept") (alias export $d "lend-kept"))
)
