// Benchmark of the edge signer. Prints figures; asserts nothing about speed.
//   bash scripts/build-edge && node edge-signer/js/bench.mjs
// Figures:
//   - init: importing index.mjs (read config.json + signer.wasm, compile, instantiate,
//     configure, one self-test signature), each in a fresh node process, as a new Lambda
//     execution environment does; then its first request;
//   - warm per-request time of the handler (WASM) and, in the same run, of a hand-written
//     node:crypto signer producing identical headers (bench/node-crypto-signer.mjs);
//   - zip size (target/edge-signer.zip) and signer.wasm size.
// Options: BENCH_ROUNDS (default 9), BENCH_ITERS per round (default 50000), BENCH_INITS (default 7).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, copyFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { createCryptoSigner } from './bench/node-crypto-signer.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '../..');
const ASSETS = process.env.EDGESEAL_EDGE_ASSETS ?? join(REPO, 'target', 'edge-assets');
const ZIP = join(REPO, 'target', 'edge-signer.zip');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
const ITERS = Number(process.env.BENCH_ITERS ?? 50_000);
const INITS = Number(process.env.BENCH_INITS ?? 7);

const config = {
  format: 1, label: 'edgeseal', keyid: '3f2a1c9e-6b1d-4e2f-9a8b-7c6d5e4f3a21',
  key: Buffer.alloc(32, 7).toString('base64'), max_age_secs: 300,
};
const dir = mkdtempSync(join(tmpdir(), 'edgeseal-bench-'));
copyFileSync(join(HERE, 'index.mjs'), join(dir, 'index.mjs'));
copyFileSync(join(ASSETS, 'signer.wasm'), join(dir, 'signer.wasm'));
writeFileSync(join(dir, 'config.json'), JSON.stringify(config));

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const min = (xs) => Math.min(...xs);

// --- init, in fresh processes -------------------------------------------------------
// Two views of a cold start, each measured in new processes so no compiled code is
// reused. The Lambda runtime has its ES module loader up, and node:fs, node:path and
// node:url loaded, before it imports the handler; each child does the same first.
//  - import: the whole import of index.mjs, as Lambda's init phase runs it (module load,
//    then its top level: read config.json + signer.wasm, compile, instantiate, configure,
//    one self-test signature), then the first request through the exported handler;
//  - loadSigner: only the signer's init, from a copy of index.mjs in a directory without
//    config.json (whose own top level then stops at the missing file).
writeFileSync(join(dir, 'empty.mjs'), "import 'node:fs'; import 'node:path'; import 'node:url';\n");
const bare = mkdtempSync(join(tmpdir(), 'edgeseal-bench-bare-'));
process.on('exit', () => {
  for (const d of [dir, bare]) rmSync(d, { recursive: true, force: true });
});
copyFileSync(join(HERE, 'index.mjs'), join(bare, 'index.mjs'));
const url = (d, f) => JSON.stringify(pathToFileURL(join(d, f)).href);
const REQUEST = `{ method: 'GET', uri: '/a', querystring: 'b=1', headers: {}, origin: { custom: { domainName: 'h.example', path: '/prod' } } }`;
const IMPORT_SCRIPT = `
  await import(${url(dir, 'empty.mjs')});
  const t0 = process.hrtime.bigint();
  const { handler } = await import(${url(dir, 'index.mjs')});
  const t1 = process.hrtime.bigint();
  const request = ${REQUEST};
  await handler({ Records: [{ cf: { request } }] });
  const t2 = process.hrtime.bigint();
  if (request.headers.signature === undefined) process.exit(1);
  process.stdout.write(JSON.stringify([Number(t1 - t0) / 1e6, Number(t2 - t1) / 1e6]));
`;
const LOAD_SCRIPT = `
  await import(${url(dir, 'empty.mjs')});
  const { loadSigner } = await import(${url(bare, 'index.mjs')});
  const t0 = process.hrtime.bigint();
  const signer = loadSigner(${JSON.stringify(dir)});
  const t1 = process.hrtime.bigint();
  if (signer === null) process.exit(1);
  process.stdout.write(JSON.stringify([Number(t1 - t0) / 1e6]));
`;
const child = (script) =>
  JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
const inits = [];
const firsts = [];
const loads = [];
for (let i = 0; i < INITS; i++) {
  const [init, first] = child(IMPORT_SCRIPT);
  inits.push(init);
  firsts.push(first);
  loads.push(child(LOAD_SCRIPT)[0]);
}

// --- per request ----------------------------------------------------------------------
const { createHandler } = await import(pathToFileURL(join(dir, 'index.mjs')).href);
const NOW = 1_767_225_600;
const now = () => NOW;
const wasmHandler = createHandler({ dir, now });
const cryptoSign = createCryptoSigner(config);
const cryptoHandler = async (event) => cryptoSign(event.Records[0].cf.request, now());

// A typical API request: stage as origin path, an encoded path, a few query parameters.
const makeEvent = () => ({
  Records: [{ cf: { config: { eventType: 'origin-request' }, request: {
    clientIp: '203.0.113.178', method: 'GET', uri: '/orders/42/items/caf%C3%A9', querystring: 'limit=20&sort=desc&cursor=eyJpZCI6NDJ9&tag=a&tag=b',
    headers: {
      host: [{ key: 'Host', value: 'abc123.execute-api.us-east-1.amazonaws.com' }],
      'user-agent': [{ key: 'User-Agent', value: 'Amazon CloudFront' }],
      via: [{ key: 'Via', value: '2.0 2afae0d44e2540f472c0635ab62c232b.cloudfront.net (CloudFront)' }],
      'x-forwarded-for': [{ key: 'X-Forwarded-For', value: '203.0.113.178' }],
    },
    origin: { custom: { customHeaders: {}, domainName: 'abc123.execute-api.us-east-1.amazonaws.com', keepaliveTimeout: 5, path: '/prod', port: 443, protocol: 'https', readTimeout: 30, sslProtocols: ['TLSv1.2'] } },
  } } }],
});

// Same headers from both, or the comparison means nothing.
assert.deepEqual(await wasmHandler(makeEvent()), await cryptoHandler(makeEvent()));

async function round(handler, event) {
  const headers = event.Records[0].cf.request.headers;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < ITERS; i++) {
    // Each request arrives without our fields, as a viewer's does.
    delete headers['signature-input'];
    delete headers.signature;
    await handler(event);
  }
  return Number(process.hrtime.bigint() - t0) / ITERS;
}

const wasmEvent = makeEvent();
const cryptoEvent = makeEvent();
await round(wasmHandler, wasmEvent); // warm-up (JIT, buffers)
await round(cryptoHandler, cryptoEvent);
const wasmNs = [];
const cryptoNs = [];
for (let r = 0; r < ROUNDS; r++) {
  wasmNs.push(await round(wasmHandler, wasmEvent));
  cryptoNs.push(await round(cryptoHandler, cryptoEvent));
}

const w = median(wasmNs);
const c = median(cryptoNs);
const fmt = (ns) => `${(ns / 1000).toFixed(2)} µs`;
console.log(`node ${process.version}, ${ROUNDS} rounds x ${ITERS} requests, medians`);
const list = (xs) => xs.map((x) => x.toFixed(2)).join(', ');
console.log(`init, loadSigner (read config + wasm, compile, instantiate, configure, self-test): ${median(loads).toFixed(2)} ms  (${list(loads)})  target <= 10 ms`);
console.log(`init, whole import of index.mjs (module load + the above):                        ${median(inits).toFixed(2)} ms  (${list(inits)})`);
console.log(`first request after init:                                                          ${median(firsts).toFixed(2)} ms  (${list(firsts)})`);
console.log(`per request, WASM handler:        ${fmt(w)}  min ${fmt(min(wasmNs))}  (rounds ${wasmNs.map((x) => (x / 1000).toFixed(2)).join(', ')})`);
console.log(`per request, node:crypto signer:  ${fmt(c)}  min ${fmt(min(cryptoNs))}  (rounds ${cryptoNs.map((x) => (x / 1000).toFixed(2)).join(', ')})`);
console.log(`ratio WASM / node:crypto:         ${(w / c).toFixed(2)}x (medians), ${(min(wasmNs) / min(cryptoNs)).toFixed(2)}x (minimums)  target <= 1.5x`);
console.log(`signer.wasm: ${statSync(join(ASSETS, 'signer.wasm')).size} bytes`);
try {
  console.log(`zip (${ZIP}): ${statSync(ZIP).size} bytes  budget ${256 * 1024}`);
} catch {
  console.log('zip: not built (bash scripts/build-edge)');
}
