;; After values/transcode.wast (lines 1-534) of WebAssembly/component-model:
;; a string crosses between two components whose `canon lower` (caller, $D)
;; and `canon lift` (callee, $C) declare the encodings CALLER and CALLEE
;; (the test fills them in). The callee echoes its argument, so the string
;; is transcoded CALLER -> CALLEE and back; the host checks it is intact.
;; `bad-utf8`, `bad-utf16` and `bad-compact` pass an invalid string (a lone
;; UTF-8 lead byte, a lone surrogate, a lone surrogate tagged UTF-16).
(component
  (component $C
    (core module $M
      (memory (export "mem") 1)
      (global $next (mut i32) (i32.const 1024))
      ;; the bump allocator of transcode.wast
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
        (local.get $r))
      (func (export "echo") (param $ptr i32) (param $len i32) (result i32)
        (i32.store (i32.const 0) (local.get $ptr))
        (i32.store (i32.const 4) (local.get $len))
        (i32.const 0)))
    (core instance $m (instantiate $M))
    (func (export "echo") (param "s" string) (result string)
      (canon lift (core func $m "echo") string-encoding=CALLEE
        (memory (core memory $m "mem")) (realloc (core func $m "realloc")))))

  (component $D
    (import "echo" (func $echo (param "s" string) (result string)))
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
    (core func $echo' (canon lower (func $echo) string-encoding=CALLER
      (memory (core memory $libc "mem")) (realloc (core func $libc "realloc"))))
    (core module $Main
      (import "" "mem" (memory 1))
      (import "" "echo" (func $echo (param i32 i32 i32)))
      ;; a lone high surrogate (utf16) at 16, a lone lead byte (utf8) at 24
      (data (i32.const 16) "\00\d8")
      (data (i32.const 24) "\e2")
      (func (export "echo") (param i32 i32) (result i32)
        (call $echo (local.get 0) (local.get 1) (i32.const 8))
        (i32.const 8))
      (func (export "bad-utf16") (call $echo (i32.const 16) (i32.const 1) (i32.const 8)))
      (func (export "bad-compact") (call $echo (i32.const 16) (i32.const 0x80000001) (i32.const 8)))
      (func (export "bad-utf8") (call $echo (i32.const 24) (i32.const 1) (i32.const 8))))
    (core instance $main (instantiate $Main (with "" (instance
      (export "mem" (memory $libc "mem"))
      (export "echo" (func $echo'))))))
    (func (export "echo") (param "s" string) (result string)
      (canon lift (core func $main "echo") string-encoding=CALLER
        (memory (core memory $libc "mem")) (realloc (core func $libc "realloc"))))
    (func (export "bad-utf8") (canon lift (core func $main "bad-utf8")))
    (func (export "bad-utf16") (canon lift (core func $main "bad-utf16")))
    (func (export "bad-compact") (canon lift (core func $main "bad-compact"))))

  (instance $c (instantiate $C))
  (instance $d (instantiate $D (with "echo" (func $c "echo"))))
  (export "echo" (func $d "echo"))
  (export "bad-utf8" (func $d "bad-utf8"))
  (export "bad-utf16" (func $d "bad-utf16"))
  (export "bad-compact" (func $d "bad-compact")))
