;; From validation/resources.wast (line 19), validation/core-modules.wast
;; (line 7) and validation/resources.wast (line 355): a valid component
;; that imports resource types, a core module and an instance exporting a
;; resource, none of which a host of this runtime provides.
(component
  (import "T1" (type $T1 (sub resource)))
  (import "T2" (type $T2 (eq $T1)))
  (core type $MT (module
    (type $ft (func))
    (import "a" "b" (func (type $ft)))
    (export "f" (func (type $ft)))
  ))
  (import "m" (core module (type $MT)))
  (type $I (instance
    (export "r" (type $r (sub resource)))
    (export "f" (func (result (own $r))))))
  (import "i1" (instance $i1 (type $I)))
  (component $eq
    (import "a" (type $a (sub resource)))
    (import "b" (type (eq $a))))
  (instance (instantiate $eq (with "a" (type $T1)) (with "b" (type $T2))))
)
