// The WASM engine (verifiers/node/wasm): settings, signature check, key rules, and log
// and metric lines in the authorizer's shape, all in Rust. This class only moves bytes
// in and out of linear memory; see the crate docs for the exports.

import { readFileSync } from 'node:fs';

const ABSENT = 0xffffffff;
const STATUS = new Map([
  [-1, 'malformed input'],
  [-2, 'engine not configured'],
  [-3, 'engine re-entered'],
]);

const encoder = new TextEncoder();

/** The default module: lib/verifier.wasm in this package (scripts/build-verifiers). */
export const DEFAULT_WASM = new URL('../lib/verifier.wasm', import.meta.url);

/** Compiled once per process, whatever the number of verifiers. */
const modules = new Map();
function compiled(path) {
  const key = String(path);
  let module = modules.get(key);
  if (module === undefined) {
    module = new WebAssembly.Module(readFileSync(path));
    modules.set(key, module);
  }
  return module;
}

export class WasmEngine {
  #exports;
  #memory;
  #view = null;
  #inputAddr = 0;
  #inputCap = 0;

  /** `wasmPath`: a path or file URL of verifier.wasm. One instance per engine. */
  constructor(wasmPath = DEFAULT_WASM) {
    const instance = new WebAssembly.Instance(compiled(wasmPath), {});
    this.#exports = instance.exports;
    this.#memory = instance.exports.memory;
  }

  // Linear memory may grow during any call, which detaches the old ArrayBuffer.
  #buffer() {
    if (this.#view === null || this.#view.buffer !== this.#memory.buffer) {
      this.#view = Buffer.from(this.#memory.buffer);
    }
    return this.#view;
  }

  #reserve(len) {
    if (len > this.#inputCap) {
      const addr = this.#exports.esv_buffer(len);
      if (addr < 0) throw new Error(`edgeseal verifier: ${STATUS.get(addr)}`);
      this.#inputAddr = addr;
      this.#inputCap = len;
    }
  }

  #write(text) {
    const bytes = encoder.encode(text);
    this.#reserve(bytes.length);
    this.#buffer().set(bytes, this.#inputAddr);
    bytes.fill(0);
    return bytes.length;
  }

  #read(n) {
    if (n < 0) throw new Error(`edgeseal verifier: ${STATUS.get(n) ?? `status ${n}`}`);
    const at = this.#exports.esv_output();
    return JSON.parse(this.#buffer().toString('utf8', at, at + n));
  }

  /**
   * Settings by the authorizer's names; throws the error naming the variable. Returns
   * {maxBodyBytes}: the most body to read for checkBody.
   */
  configure(settings) {
    const answer = this.#read(this.#exports.esv_configure(this.#write(JSON.stringify(settings))));
    if (answer.error) throw new Error(answer.error);
    return answer;
  }

  /** 0: none due; 1: due, keys held (refresh in the background); 2: due, wait. */
  refreshDue(nowMs) {
    return this.#exports.esv_refresh_due(nowMs);
  }

  /** Version ids to read for a listing [{id, stages, created}]. */
  valuesNeeded(versions) {
    return this.#read(this.#exports.esv_values_needed(this.#write(JSON.stringify(versions))));
  }

  /** A successful refresh; the module wipes its copy of the values. Returns log lines. */
  apply(nowMs, refresh) {
    return this.#read(this.#exports.esv_apply(this.#write(JSON.stringify(refresh)), nowMs));
  }

  /** A failed refresh; returns log lines. */
  failed(nowMs, operation, detail) {
    return this.#read(this.#exports.esv_failed(this.#write(JSON.stringify({ operation, detail })), nowMs));
  }

  // The request in the wire layout at the input buffer, with room for `extra` more bytes
  // after it; returns its length.
  #writeRequest(strings, extra) {
    let need = 4 + extra;
    for (const s of strings) need += 4 + (s === undefined ? 0 : 3 * s.length);
    this.#reserve(need);
    const buf = this.#buffer();
    const base = this.#inputAddr;
    buf.writeUInt32LE(strings.length, base);
    let at = base + 4;
    for (const s of strings) {
      if (s === undefined) {
        buf.writeUInt32LE(ABSENT, at);
        at += 4;
      } else {
        const n = buf.write(s, at + 4, 'utf8');
        buf.writeUInt32LE(n, at);
        at += 4 + n;
      }
    }
    return at - base;
  }

  /**
   * The verdict on a request. `strings`: method, host, path, query, request id, then
   * header name/value pairs (undefined host: absent). Answers the verdict,
   * {refresh: true, keyid, logs} (refresh, then check again with `recheck`), or
   * {readBody: true} (read the body, then checkBody with the same strings).
   */
  check(nowMs, strings, recheck) {
    const len = this.#writeRequest(strings, 0);
    return this.#read(this.#exports.esv_check(len, nowMs, recheck ? 1 : 0));
  }

  /**
   * The verdict after {readBody: true}: the same strings and the body (a Uint8Array), or
   * null when it was longer than maxBodyBytes or unreadable. The core compares it with
   * the Content-Digest the signature covers.
   */
  checkBody(nowMs, strings, body) {
    const extra = body === null ? 0 : body.length;
    const len = this.#writeRequest(strings, extra);
    if (body !== null) this.#buffer().set(body, this.#inputAddr + len);
    return this.#read(this.#exports.esv_check_body(len, body === null ? ABSENT : body.length, nowMs));
  }
}
