// Cost per request of the Node.js verifier: `node verifiers/node/bench.mjs [requests]`.
// Requests signed by the real edge function (target/edge-assets; bash scripts/build-edge)
// are verified by a warm verifier whose key source is in memory (no I/O is measured:
// a warm verifier makes no Secrets Manager call). Prints microseconds per request for
// the whole verify() (request → verdict, log and metric lines built; metric line written
// to a discarding sink) for the allowed and denied paths, and for a POST whose body the
// edge binds (Content-Digest checked against the 1 KiB body).
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { Verifier } from './src/index.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const assets = process.env.EDGESEAL_EDGE_ASSETS ?? join(ROOT, 'target', 'edge-assets');
const N = Number(process.argv[2] ?? 50000);
const keyid = '4f0c2b6e-0000-4000-8000-000000000001';
const key = randomBytes(64).toString('base64');

const dir = mkdtempSync(join(tmpdir(), 'edgeseal-bench-'));
for (const f of ['index.mjs', 'signer.wasm']) copyFileSync(join(assets, f), join(dir, f));
writeFileSync(join(dir, 'config.json'), JSON.stringify({ format: 1, label: 'edgeseal', keyid, key, max_age_secs: 300, profiles: { default: 'raw' } }));
const edge = await import(pathToFileURL(join(dir, 'index.mjs')).href);
const signer = edge.loadSigner(dir);

const source = {
  listVersions: async () => [{ id: keyid, stages: ['AWSCURRENT'], created: 0 }],
  getValue: async () => JSON.stringify({ alg: 'hmac-sha256', key }),
};
const verifier = new Verifier({ secretId: 'bench', source, log: () => {}, metric: () => {}, env: {} });

function request(i, tamper) {
  const cf = {
    method: 'GET', uri: '/api/orders/12345', querystring: `page=${i}&sort=desc`,
    headers: { host: [{ key: 'Host', value: 'app.example.com' }] },
    origin: { custom: { domainName: 'app.example.com', path: '' } },
  };
  edge.signRequest(signer, cf, Math.floor(Date.now() / 1000));
  return {
    method: 'GET', host: 'app.example.com', path: '/api/orders/12345',
    query: tamper ? `page=${i + 1}&sort=desc` : `page=${i}&sort=desc`,
    headers: {
      host: 'app.example.com', 'user-agent': 'Amazon CloudFront', via: '2.0 abc.cloudfront.net (CloudFront)',
      'x-amz-cf-id': `id-${i}`, 'accept-encoding': 'gzip',
      'signature-input': cf.headers['signature-input'][0].value, signature: cf.headers.signature[0].value,
    },
  };
}

/** A POST whose 1 KiB body the behavior includes, so the edge binds it (Content-Digest). */
const payload = randomBytes(1024);
function bodyRequest(i) {
  const cf = {
    method: 'POST', uri: '/api/orders', querystring: `n=${i}`,
    headers: { host: [{ key: 'Host', value: 'app.example.com' }] },
    origin: { custom: { domainName: 'app.example.com', path: '' } },
    body: { inputTruncated: false, action: 'read-only', encoding: 'base64', data: payload.toString('base64') },
  };
  edge.signRequest(signer, cf, Math.floor(Date.now() / 1000));
  if (cf.headers['content-digest'] === undefined) throw new Error('the edge did not bind the body');
  return {
    method: 'POST', host: 'app.example.com', path: '/api/orders', query: `n=${i}`,
    headers: {
      host: 'app.example.com', 'user-agent': 'Amazon CloudFront', 'x-amz-cf-id': `id-${i}`,
      'content-digest': cf.headers['content-digest'][0].value,
      'signature-input': cf.headers['signature-input'][0].value, signature: cf.headers.signature[0].value,
    },
    body: payload,
  };
}

const good = Array.from({ length: 1000 }, (_, i) => request(i, false));
const bound = Array.from({ length: 1000 }, (_, i) => bodyRequest(i));
const bad = Array.from({ length: 1000 }, (_, i) => request(i, true));
await verifier.verify(good[0]); // cold start: loads the key

async function measure(label, requests, expect) {
  for (let i = 0; i < 2000; i++) await verifier.verify(requests[i % requests.length]); // warm-up
  const start = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    const out = await verifier.verify(requests[i % requests.length]);
    if (out.allowed !== expect) throw new Error(`unexpected verdict ${out.reason}`);
  }
  const ns = Number(process.hrtime.bigint() - start) / N;
  console.log(`${label.padEnd(28)} ${(ns / 1000).toFixed(2).padStart(7)} µs/request  ${Math.round(1e9 / ns).toLocaleString('en-US').padStart(9)} requests/s`);
}

console.log(`node ${process.version}, ${N} requests each`);
await measure('verify(), allowed', good, true);
await measure('verify(), bad_signature', bad, false);
await measure('verify(), 1 KiB body bound', bound, true);
