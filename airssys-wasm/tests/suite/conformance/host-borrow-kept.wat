;; The host lends a handle to a component that does not define its resource
;; ($M; $C defines it): the callee must drop the borrow before it returns, as
;; in borrow-kept.wat, when the caller is the host.
(component
  (component $C
    (type $R' (resource (rep i32)))
    (export $R "r" (type $R'))
    (canon resource.new $R' (core func $new))
    (core module $CM
      (import "" "new" (func $new (param i32) (result i32)))
      (func (export "make") (result i32) (call $new (i32.const 7))))
    (core instance $cm (instantiate $CM (with "" (instance (export "new" (func $new))))))
    (func (export "make") (result (own $R)) (canon lift (core func $cm "make")))
  )
  (component $M
    (import "c" (instance $c (export "r" (type (sub resource)))))
    (alias export $c "r" (type $R))
    (canon resource.drop $R (core func $drop))
    (core module $MM
      (import "" "drop" (func $drop (param i32)))
      (func (export "keep") (param i32))
      (func (export "drop") (param i32) (call $drop (local.get 0))))
    (core instance $mm (instantiate $MM (with "" (instance (export "drop" (func $drop))))))
    (func (export "keep") (param "r" (borrow $R)) (canon lift (core func $mm "keep")))
    (func (export "drop") (param "r" (borrow $R)) (canon lift (core func $mm "drop")))
  )
  (instance $c (instantiate $C))
  (instance $m (instantiate $M (with "c" (instance $c))))
  (alias export $c "r" (type $R))
  (alias export $c "make" (func $make))
  (alias export $m "keep" (func $keep))
  (alias export $m "drop" (func $drop))
  (instance $api
    (export "r" (type $R))
    (export "make" (func $make))
    (export "keep" (func $keep))
    (export "drop" (func $drop)))
  (export "test:x/api" (instance $api))
)
