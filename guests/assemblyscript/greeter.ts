// The polyglot greeter (wit/greeter.wit) in AssemblyScript.
//
// AssemblyScript has no WIT binding generator, so this file is its own
// canonical-ABI layer: the exports and the import take and give flat
// pointers and lengths, and `cabi_realloc` lends the host memory for
// arguments. `cargo xtask guests --lang assemblyscript` compiles it with
// asc and declares the module's strings UTF-16 (AssemblyScript's own
// encoding) when it makes the component, so strings cross without
// transcoding here: a string is (pointer, length in UTF-16 code units).
//
// Memory: the host writes arguments into blocks from `cabi_realloc`
// (`heap.alloc`, unmanaged); each export frees its arguments. Results stay
// alive until the host calls the export's `cabi_post_*`, which releases them.

// airssys:host/logging@0.1.0 `log`, lowered: level, message (pointer,
// length), fields (pointer, count), and where to write the
// result<_, error> (16 bytes, 4-aligned).
@external("airssys:host/logging@0.1.0", "log")
declare function hostLog(
  level: i32,
  message: usize,
  messageLen: i32,
  fields: usize,
  fieldsLen: i32,
  result: usize,
): void;

const LEVEL_INFO: i32 = 2;

// Two 32-bit words: a result's (pointer, length).
const returnArea: usize = memory.data(8, 4);
// The host's answer to `log`, which is not looked at: a refused record
// (rate limit) must not fail the greeting.
const logResult: usize = memory.data(16, 4);
// A non-null, suitably aligned address for zero-sized allocations.
const EMPTY: usize = memory.data(16, 16);

// The string `greet` returned, kept reachable until `cabi_post_greet`.
let greeting: string | null = null;

// A guest abort (out of bounds, failed assertion) traps the call instead of
// importing the host's `env.abort`.
function trap(message: usize, file: usize, line: u32, column: u32): void {
  unreachable();
}

export function cabi_realloc(old: usize, oldSize: usize, align: usize, size: usize): usize {
  if (size == 0) {
    if (old != 0 && oldSize != 0) heap.free(old);
    return EMPTY;
  }
  // heap blocks are 16-byte aligned: enough for any canonical-ABI type.
  if (old == 0 || oldSize == 0) return heap.alloc(size);
  return heap.realloc(old, size);
}

// Frees an argument block the host got from `cabi_realloc`.
function release(ptr: usize, size: usize): void {
  if (size != 0) heap.free(ptr);
}

function utf16(ptr: usize, len: i32): string {
  return String.UTF16.decodeUnsafe(ptr, <usize>len << 1);
}

function writeReturn(ptr: usize, len: i32): usize {
  store<u32>(returnArea, <u32>ptr);
  store<u32>(returnArea, <u32>len, 4);
  return returnArea;
}

export function greet(namePtr: usize, nameLen: i32): usize {
  const name = utf16(namePtr, nameLen);
  release(namePtr, <usize>nameLen << 1);

  const message = "greeting " + name;
  const key = "lang";
  const value = "assemblyscript";
  // list<tuple<string, string>> of one: key (pointer, length), value
  // (pointer, length).
  const fields = heap.alloc(16);
  store<u32>(fields, <u32>changetype<usize>(key));
  store<u32>(fields, <u32>key.length, 4);
  store<u32>(fields, <u32>changetype<usize>(value), 8);
  store<u32>(fields, <u32>value.length, 12);
  hostLog(LEVEL_INFO, changetype<usize>(message), message.length, fields, 1, logResult);
  heap.free(fields);
  // An error's text, if the host sent one, is ours to free.
  if (load<u8>(logResult) == 1) {
    release(load<u32>(logResult, 8), <usize>load<u32>(logResult, 12) << 1);
  }

  const result = "Hello, " + name + "!";
  greeting = result;
  return writeReturn(changetype<usize>(result), result.length);
}

export function cabi_post_greet(ret: usize): void {
  greeting = null;
}

export function transform(dataPtr: usize, dataLen: i32): usize {
  const out = dataLen == 0 ? EMPTY : heap.alloc(<usize>dataLen);
  for (let i: i32 = 0; i < dataLen; i++) {
    store<u8>(out + <usize>(dataLen - 1 - i), load<u8>(dataPtr + <usize>i) + 1);
  }
  release(dataPtr, <usize>dataLen);
  return writeReturn(out, dataLen);
}

export function cabi_post_transform(ret: usize): void {
  release(<usize>load<u32>(ret), <usize>load<u32>(ret, 4));
}
