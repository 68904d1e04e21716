;; After values/transcode.wast (lines 1-534) of WebAssembly/component-model,
;; at the host boundary: the host lowers a string argument into a component
;; of string encoding ENCODING (the test fills it in). The component's
;; realloc counts its calls and keeps the first and last size asked for;
;; `take` returns (calls, first size, last size, length as passed);
;; `give-odd` returns a string at an odd address (Latin-1, length 1).
(component
  (core module $M
    (memory (export "mem") 1)
    (global $next (mut i32) (i32.const 1024))
    (global $calls (mut i32) (i32.const 0))
    (global $first (mut i32) (i32.const -1))
    (global $last (mut i32) (i32.const -1))
    (func (export "realloc") (param $old i32) (param $osize i32) (param $align i32) (param $nsize i32) (result i32)
      (local $r i32)
      (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
      (if (i32.eq (global.get $first) (i32.const -1))
        (then (global.set $first (local.get $nsize))))
      (global.set $last (local.get $nsize))
      (if (i32.and (i32.ne (local.get $old) (i32.const 0))
                   (i32.le_u (local.get $nsize) (local.get $osize)))
        (then (return (local.get $old))))
      (global.set $next (i32.and (i32.add (global.get $next) (i32.const 7)) (i32.const -8)))
      (local.set $r (global.get $next))
      (global.set $next (i32.add (global.get $next) (local.get $nsize)))
      (if (i32.ne (local.get $old) (i32.const 0))
        (then (memory.copy (local.get $r) (local.get $old) (local.get $osize))))
      (local.get $r))
    (func (export "take") (param $ptr i32) (param $len i32) (result i32)
      (i32.store (i32.const 0) (global.get $calls))
      (i32.store (i32.const 4) (global.get $first))
      (i32.store (i32.const 8) (global.get $last))
      (i32.store (i32.const 12) (local.get $len))
      (i32.const 0))
    (func (export "give-odd") (result i32)
      (i32.store (i32.const 0) (i32.const 17))
      (i32.store (i32.const 4) (i32.const 1))
      (i32.const 0)))
  (core instance $m (instantiate $M))
  (func (export "take") (param "s" string) (result (tuple u32 u32 u32 u32))
    (canon lift (core func $m "take") string-encoding=ENCODING
      (memory (core memory $m "mem")) (realloc (core func $m "realloc"))))
  (func (export "give-odd") (result string)
    (canon lift (core func $m "give-odd") string-encoding=ENCODING
      (memory (core memory $m "mem")) (realloc (core func $m "realloc")))))
