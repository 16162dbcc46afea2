// Test support: Secrets Manager on moto through the real SDK, the real edge function
// (edge-signer's index.mjs + signer.wasm, as scripts/build-edge assembles them) signing
// CloudFront origin-request events, and HTTP requests sent with the Host CloudFront sends.

import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import {
  CreateSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const EDGE_ASSETS = process.env.EDGESEAL_EDGE_ASSETS ?? join(ROOT, 'target', 'edge-assets');
export const HOST = 'app.example.com';

export function motoClient() {
  const endpoint = process.env.EDGESEAL_MOTO_URL;
  if (!endpoint) throw new Error('EDGESEAL_MOTO_URL is not set: eval "$(bash scripts/moto start)"');
  return new SecretsManagerClient({
    endpoint, region: 'us-east-1', maxAttempts: 1,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
}

/** A new edgeseal key (64 random bytes, as the rotator makes them) and its secret JSON. */
export function newKey() {
  const key = randomBytes(64).toString('base64');
  return { key, secret: JSON.stringify({ alg: 'hmac-sha256', key }) };
}

let counter = 0;
export const uniqueName = (tag) => `edgeseal-node-${tag}-${process.pid}-${Date.now()}-${++counter}`;

/** A secret whose AWSCURRENT holds a new key; returns {name, v1, key}. */
export async function createSecret(client, tag) {
  const name = uniqueName(tag);
  const { key, secret } = newKey();
  const out = await client.send(new CreateSecretCommand({ Name: name, SecretString: secret }));
  return { name, v1: out.VersionId, key };
}

/** createSecret step: a new key as AWSPENDING; returns {version, key}. */
export async function putPending(client, name) {
  const { key, secret } = newKey();
  const out = await client.send(new PutSecretValueCommand({
    SecretId: name, SecretString: secret, VersionStages: ['AWSPENDING'],
  }));
  return { version: out.VersionId, key };
}

/** finishSecret step: AWSCURRENT moves to `to` (moto, as AWS, labels `from` AWSPREVIOUS). */
export async function promote(client, name, to, from) {
  await client.send(new UpdateSecretVersionStageCommand({
    SecretId: name, VersionStage: 'AWSCURRENT', MoveToVersionId: to, RemoveFromVersionId: from,
  }));
  await client.send(new UpdateSecretVersionStageCommand({
    SecretId: name, VersionStage: 'AWSPENDING', RemoveFromVersionId: to,
  }));
}

/**
 * The real edge function packaged with `keyid`/`key` (config.json as the rotator writes
 * it), loaded from its own directory. Returns sign(path, query, nowSecs, {method, body})
 * → headers. `body` (a Buffer): the behavior includes the body, as CloudFront hands it
 * to an origin-request function (base64, not truncated), so the edge binds it with
 * Content-Digest.
 */
export async function edgeFunction(keyid, key, profile = 'raw') {
  const dir = mkdtempSync(join(tmpdir(), 'edgeseal-node-edge-'));
  copyFileSync(join(EDGE_ASSETS, 'index.mjs'), join(dir, 'index.mjs'));
  copyFileSync(join(EDGE_ASSETS, 'signer.wasm'), join(dir, 'signer.wasm'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({
    format: 1, label: 'edgeseal', keyid, key, max_age_secs: 300,
    profiles: { default: profile },
  }));
  const edge = await import(pathToFileURL(join(dir, 'index.mjs')).href);
  const signer = edge.loadSigner(dir, { error: (m) => { throw new Error(m); } });
  return (path, query, nowSecs = Math.floor(Date.now() / 1000), { method = 'GET', body } = {}) => {
    const request = {
      method, uri: path, querystring: query,
      headers: { host: [{ key: 'Host', value: HOST }] },
      origin: { custom: { domainName: 'origin.example.com', path: '' } },
    };
    if (body !== undefined) {
      request.body = { inputTruncated: false, action: 'read-only', encoding: 'base64', data: body.toString('base64') };
    }
    edge.signRequest(signer, request, nowSecs, { warn: (m) => { throw new Error(m); } });
    return {
      'signature-input': request.headers['signature-input']?.[0]?.value,
      signature: request.headers.signature?.[0]?.value,
      'content-digest': request.headers['content-digest']?.[0]?.value,
    };
  };
}

/**
 * GET http://127.0.0.1:port/path?query with Host: HOST (what CloudFront forwards); with
 * `{method, body}`, that method and body (Content-Length framing, or chunked with
 * `chunked: true`, written in pieces).
 */
export function send(port, path, query, headers = {}, { method = 'GET', body, chunked = false } = {}) {
  return new Promise((resolve, reject) => {
    const clean = Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined));
    if (body !== undefined && !chunked) clean['content-length'] = String(body.length);
    const req = httpRequest({
      host: '127.0.0.1', port, method, path: query ? `${path}?${query}` : path,
      headers: { ...clean, host: HOST },
    }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', reject);
    if (body !== undefined) {
      // Several writes: the origin receives the body in more than one chunk.
      const step = Math.max(1, Math.ceil(body.length / 4));
      for (let at = 0; at < body.length; at += step) req.write(body.subarray(at, at + step));
    }
    req.end();
  });
}

/** A source wrapper counting calls and failing on demand (a Secrets Manager outage). */
export class CountingSource {
  lists = 0;
  gets = 0;
  failing = false;
  constructor(inner) { this.inner = inner; }
  get calls() { return this.lists + this.gets; }
  async listVersions() {
    this.lists++;
    if (this.failing) throw Object.assign(new Error('outage'), { operation: 'ListSecretVersionIds', detail: 'dispatch failure (ECONNREFUSED)' });
    return this.inner.listVersions();
  }
  async getValue(id) {
    this.gets++;
    if (this.failing) throw Object.assign(new Error('outage'), { operation: 'GetSecretValue', detail: 'dispatch failure (ECONNREFUSED)' });
    return this.inner.getValue(id);
  }
}

/** Collects log and metric lines. */
export function collector() {
  const logs = [];
  const metrics = [];
  return {
    logs, metrics,
    log: (line) => logs.push(JSON.parse(line)),
    metric: (line) => metrics.push(JSON.parse(line)),
  };
}
