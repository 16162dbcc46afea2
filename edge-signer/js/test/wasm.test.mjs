// The raw WASM exports, driven directly: the status codes the handler relies on.
//   node --test edge-signer/js/test/*.test.mjs

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { ASSETS, KEY_B64, config } from '../support/test-support.mjs';

const bytes = readFileSync(join(ASSETS, 'signer.wasm'));
const compiled = new WebAssembly.Module(bytes);

function instance() {
  const { exports } = new WebAssembly.Instance(compiled, {});
  const mem = () => Buffer.from(exports.memory.buffer);
  const put = (data) => {
    const addr = exports.edgeseal_buffer(data.length);
    data.copy(mem(), addr);
    return data.length;
  };
  const init = (cfg) => exports.edgeseal_init(put(Buffer.from(JSON.stringify(cfg))));
  return { exports, mem, put, init };
}

/** The wire layout, written independently of index.mjs. */
function request(fields) {
  const parts = fields.map((f) => (f === undefined ? undefined : Buffer.from(f, 'utf8')));
  const header = Buffer.alloc(36);
  parts.forEach((p, i) => header.writeUInt32LE(p === undefined ? 0xffffffff : p.length, 4 * i));
  return Buffer.concat([header, ...parts.filter((p) => p !== undefined)]);
}

const GOOD = ['GET', 'h.example', 'h.example', '/prod', '/a', 'b=1', undefined, undefined, undefined];

test('exports are exactly the documented interface', () => {
  const names = WebAssembly.Module.exports(compiled).map((e) => e.name).filter((n) => n.startsWith('edgeseal_'));
  assert.deepEqual(names.sort(), ['edgeseal_buffer', 'edgeseal_init', 'edgeseal_output', 'edgeseal_sign']);
  assert.deepEqual(WebAssembly.Module.imports(compiled), []);
});

test('sign before init is refused', () => {
  const w = instance();
  assert.equal(w.exports.edgeseal_sign(w.put(request(GOOD)), 1), -2);
});

test('a failed init leaves the signer unconfigured, a good one configures it', () => {
  const w = instance();
  assert.equal(w.init(config()), 0);
  assert.ok(w.exports.edgeseal_sign(w.put(request(GOOD)), 1) > 0);
  assert.equal(w.init(config({ key: 'AAAA' })), -14);
  assert.equal(w.exports.edgeseal_sign(w.put(request(GOOD)), 1), -2);
});

test('init wipes the config bytes from the input buffer', () => {
  const w = instance();
  const cfg = Buffer.from(JSON.stringify(config()));
  const addr = w.exports.edgeseal_buffer(cfg.length);
  cfg.copy(w.mem(), addr);
  assert.equal(w.exports.edgeseal_init(cfg.length), 0);
  const after = w.mem().subarray(addr, addr + cfg.length);
  assert.ok(after.every((b) => b === 0));
  assert.ok(!w.mem().includes(Buffer.from(KEY_B64)), 'the base64 key is nowhere in linear memory');
});

test('malformed frames, bad clocks, bad requests have their own codes', () => {
  const w = instance();
  assert.equal(w.init(config()), 0);
  const good = request(GOOD);
  const sign = (buf, now = 1) => w.exports.edgeseal_sign(w.put(buf), now);
  assert.equal(sign(good.subarray(0, good.length - 1)), -1);
  assert.equal(sign(Buffer.concat([good, Buffer.from('x')])), -1);
  assert.equal(sign(Buffer.alloc(3)), -1);
  assert.equal(sign(request(['GET', 'h.example', 'h.example', '', '/\xff', '', undefined, undefined, undefined]).fill(0xff, 36, 37)), -1);
  assert.equal(sign(request([undefined, 'h.example', 'h.example', '', '/', '', undefined, undefined, undefined])), -1);
  for (const now of [1.5, -1, NaN, Infinity, 2 ** 53]) assert.equal(sign(good, now), -6, String(now));
  assert.equal(sign(request(['G T', 'h.example', 'h.example', '', '/', '', undefined, undefined, undefined])), -3);
  assert.equal(sign(request(['GET', '', 'h.example', '', '/', '', undefined, undefined, undefined])), -4);
  assert.equal(sign(request(['GET', 'bad host', 'h.example', '', '/', '', undefined, undefined, undefined])), -4);
  // A length beyond the buffer is refused, not read.
  assert.equal(w.exports.edgeseal_sign(0x7fffffff, 1), -1);
  assert.ok(sign(good) > 0);
});

test('the response layout carries both fields', () => {
  const w = instance();
  assert.equal(w.init(config({ max_age_secs: 0 })), 0);
  const n = w.exports.edgeseal_sign(w.put(request(GOOD)), 1767225600);
  const out = w.exports.edgeseal_output();
  const m = w.mem();
  const a = m.readUInt32LE(out);
  const b = m.readUInt32LE(out + 4);
  assert.equal(m.readUInt32LE(out + 8), 0xffffffff, 'no Content-Digest without a body');
  assert.equal(n, 12 + a + b);
  assert.match(m.toString('latin1', out + 12, out + 12 + a), /^edgeseal=\("@method" "@authority" "@path" "@query"\);created=1767225600;keyid="/);
  assert.match(m.toString('latin1', out + 12 + a, out + 12 + a + b), /^edgeseal=:[A-Za-z0-9+/]{43}=:$/);
});
