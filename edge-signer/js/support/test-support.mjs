// Shared helpers for the handler tests: where the built WASM is, temporary function
// directories (handler + signer.wasm + config.json), fixtures and vectors.

import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
export const JS_DIR = resolve(HERE, '..');
export const REPO = resolve(HERE, '../../..');
export const ASSETS = process.env.EDGESEAL_EDGE_ASSETS ?? join(REPO, 'target', 'edge-assets');

const WASM = join(ASSETS, 'signer.wasm');
if (!existsSync(WASM)) {
  throw new Error(`${WASM} is missing: build it first with \`bash scripts/build-edge\``);
}

export const VECTORS = JSON.parse(
  readFileSync(join(REPO, 'shared', 'tests', 'vectors', 'signatures.json'), 'utf8'),
);

export const KEYID = 'a1b2c3d4-0000-4000-8000-000000000001';
export const KEY_B64 = Buffer.alloc(32, 7).toString('base64');

export function config(overrides = {}) {
  return { format: 1, label: 'edgeseal', keyid: KEYID, key: KEY_B64, max_age_secs: 300, ...overrides };
}

/**
 * A directory laid out like the deployed function: the handler source under test, the
 * built signer.wasm, and config.json (an object, raw text, or null for none).
 */
const created = [];
process.on('exit', () => {
  for (const dir of created) rmSync(dir, { recursive: true, force: true });
});

export function functionDir(cfg = config(), { wasm = true } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'edgeseal-edge-'));
  created.push(dir);
  copyFileSync(join(JS_DIR, 'index.mjs'), join(dir, 'index.mjs'));
  if (wasm) copyFileSync(WASM, join(dir, 'signer.wasm'));
  if (cfg !== null) {
    writeFileSync(join(dir, 'config.json'), typeof cfg === 'string' ? cfg : JSON.stringify(cfg));
  }
  return dir;
}

export function fixture(name) {
  return JSON.parse(readFileSync(join(REPO, 'tests', 'fixtures', 'cloudfront', `${name}.json`), 'utf8'));
}

export const CUSTOM_FIXTURES = [
  'origin-request-custom',
  'origin-request-origin-path',
  'origin-request-no-host',
  'origin-request-host-forwarded',
  'origin-request-spoofed',
];

/** An origin-request event with only what the signature depends on. */
export function event({ method = 'GET', host, domainName = host, originPath = '', uri = '/', querystring = '', headers = {} }) {
  const h = { ...headers };
  if (host !== undefined) h.host = [{ key: 'Host', value: host }];
  return {
    Records: [{ cf: { request: { method, uri, querystring, headers: h, origin: { custom: { domainName, path: originPath } } } } }],
  };
}

/** A console stand-in that records what the handler logs. */
export function recorder() {
  const lines = { error: [], warn: [] };
  return { lines, error: (m) => lines.error.push(String(m)), warn: (m) => lines.warn.push(String(m)) };
}

export async function importHandler(dir) {
  const { pathToFileURL } = await import('node:url');
  return import(pathToFileURL(join(dir, 'index.mjs')).href);
}
