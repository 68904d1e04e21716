;; After values/transcode.wast (lines 202-400) of WebAssembly/component-model,
;; with the host on the other side: a latin1+utf16 component passes its string
;; argument to the host function `shout` and returns what it gives back, both
;; lowered and lifted latin1+utf16.
(component
  (import "shout" (func $shout (param "s" string) (result string)))
  (core module $Libc
    (memory (export "mem") 1)
    (global $next (mut i32) (i32.const 1024))
    (func (export "realloc") (param $old i32) (param $osize i32) (param $align i32) (param $nsize i32) (result i32)
      (local $r i32)
      (if (i32.and (i32.ne (local.get $old) (i32.const 0))
                   (i32.le_u (local.get $nsize) (local.get $osize)))
        (then (return (local.get $old))))
      (global.set $next (i32.and (i32.add (global.get $next) (i32.const 7)) (i32.const -8)))
      (local.set $r (global.get $next))
      (global.set $next (i32.add (global.get $next) (local.get $nsize)))
      (if (i32.ne (local.get $old) (i32.const 0))
        (then (memory.copy (local.get $r) (local.get $old) (local.get $osize))))
      (local.get $r)))
  (core instance $libc (instantiate $Libc))
  (core func $shout' (canon lower (func $shout) string-encoding=latin1+utf16
    (memory (core memory $libc "mem")) (realloc (core func $libc "realloc"))))
  (core module $Main
    (import "" "shout" (func $shout (param i32 i32 i32)))
    (func (export "run") (param i32 i32) (result i32)
      (call $shout (local.get 0) (local.get 1) (i32.const 8))
      (i32.const 8)))
  (core instance $main (instantiate $Main (with "" (instance (export "shout" (func $shout'))))))
  (func (export "run") (param "s" string) (result string)
    (canon lift (core func $main "run") string-encoding=latin1+utf16
      (memory (core memory $libc "mem")) (realloc (core func $libc "realloc")))))
