// The polyglot greeter (wit/greeter.wit) in JavaScript, built into a
// component by componentize-js (`cargo xtask guests --lang javascript`).
//
// WIT `result` errors from the host arrive as thrown exceptions; enums are
// their case names as strings; `list<u8>` is a Uint8Array.

import { log } from 'airssys:host/logging@0.1.0';

export function greet(name) {
  try {
    log('info', `greeting ${name}`, [['lang', 'javascript']]);
  } catch {
    // A refused record (rate limit) must not fail the greeting.
  }
  return `Hello, ${name}!`;
}

export function transform(data) {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    out[i] = (data[data.length - 1 - i] + 1) & 0xff;
  }
  return out;
}
