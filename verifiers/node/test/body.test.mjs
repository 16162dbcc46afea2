// Body binding through Express, Fastify and verify(): requests whose body the real edge
// bound with Content-Digest (a behavior that includes the body), against Secrets Manager
// on moto. The middleware reads the body, the Rust core compares it with the digest the
// signature covers, and the application still receives the body whole.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';

import express from 'express';
import Fastify from 'fastify';

import { Verifier, express as expressEdgeseal, fastify as fastifyEdgeseal } from '../src/index.mjs';
import { collector, createSecret, edgeFunction, motoClient, send } from './support.mjs';

const client = motoClient();
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** An app that answers what it received: the parsed JSON, and the raw body's hash. */
async function serveExpress(verifier) {
  const app = express();
  app.use(expressEdgeseal(verifier));
  app.post('/json', express.json(), (req, res) => res.json({ got: req.body, reason: req.edgeseal.reason }));
  app.post('/raw', express.raw({ type: '*/*', limit: '4mb' }), (req, res) => {
    res.json({ length: req.body.length, sha256: sha256(req.body) });
  });
  app.get('/{*any}', (req, res) => res.json({ reason: req.edgeseal.reason }));
  const server = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
  return { port: server.address().port, close: () => new Promise((r) => server.close(r)) };
}

async function serveFastify(verifier) {
  const app = Fastify({ bodyLimit: 4 * 1024 * 1024 });
  await app.register(fastifyEdgeseal, { verifier });
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (req, body, done) => done(null, body));
  app.post('/json', async (request) => ({ got: request.body, reason: request.edgeseal.reason }));
  app.post('/raw', async (request) => ({ length: request.body.length, sha256: sha256(request.body) }));
  app.get('/*', async (request) => ({ reason: request.edgeseal.reason }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { port: app.server.address().port, close: () => app.close() };
}

async function bodyBinding(t, tag, serve) {
  const { name, v1, key } = await createSecret(client, `body-${tag}`);
  const lines = collector();
  const settings = { secretId: name, client, log: lines.log, metric: lines.metric, maxBodyBytes: 1_100_000 };
  const verifier = new Verifier(settings);
  const strict = new Verifier({ ...settings, requireContentDigest: 'true' });
  const edge = await edgeFunction(v1, key);
  const server = await serve(verifier);
  const strictServer = await serve(strict);
  const json = { 'content-type': 'application/json' };
  const octets = { 'content-type': 'application/octet-stream' };
  const post = (port, path, signedBody, sentBody, headers, options = {}) => send(
    port, path, '', { ...headers, ...edge(path, '', undefined, { method: 'POST', body: signedBody }) },
    { method: 'POST', body: sentBody, ...options },
  );
  const reasons = () => lines.metrics.map((m) => m.Reason);
  try {
    // The body the edge bound: allowed, and the application parses it whole.
    const order = Buffer.from('{"order":42,"items":["a","b"]}');
    let r = await post(server.port, '/json', order, order, json);
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(JSON.parse(r.body), { got: { order: 42, items: ['a', 'b'] }, reason: 'signature_current' });

    // Larger than a stream's buffer, sent in pieces, chunked: still whole.
    const large = Buffer.alloc(700_000, 'edgeseal-');
    for (const chunked of [false, true]) {
      r = await post(server.port, '/raw', large, large, octets, { chunked });
      assert.equal(r.status, 200, `chunked ${chunked}: ${r.body}`);
      assert.deepEqual(JSON.parse(r.body), { length: large.length, sha256: sha256(large) });
    }

    // A captured request replayed with another body (same length): denied, and the
    // application never runs.
    const before = lines.metrics.length;
    r = await post(server.port, '/json', order, Buffer.from('{"order":43,"items":["a","b"]}'), json);
    assert.equal(r.status, 403);
    assert.deepEqual(JSON.parse(r.body), { message: 'Forbidden' });
    assert.equal(reasons().at(-1), 'body_digest_mismatch');
    assert.equal(lines.metrics.length, before + 1, 'one verdict, one metric line');
    const deny = lines.logs.at(-1);
    assert.deepEqual([deny.level, deny.message, deny.reason, deny.keyid], ['WARN', 'deny', 'body_digest_mismatch', v1]);

    // Longer than MAX_BODY_BYTES: it cannot be what the edge bound (1 MB at most).
    const huge = Buffer.alloc(1_200_000, 'x');
    r = await post(server.port, '/raw', huge, huge, octets);
    assert.equal(r.status, 403);
    assert.equal(reasons().at(-1), 'body_digest_mismatch');

    // Without REQUIRE_CONTENT_DIGEST a signature that does not bind the body passes;
    // with it, it is denied body_not_signed.
    const unbound = { ...json, ...edge('/json', '', undefined, { method: 'POST' }) };
    r = await send(server.port, '/json', '', unbound, { method: 'POST', body: order });
    assert.equal(r.status, 200, r.body);
    r = await send(strictServer.port, '/json', '', unbound, { method: 'POST', body: order });
    assert.equal(r.status, 403);
    assert.equal(reasons().at(-1), 'body_not_signed');
    r = await post(strictServer.port, '/json', order, order, json);
    assert.equal(r.status, 200, r.body);

    // A GET whose empty body the edge bound.
    r = await send(server.port, '/orders', 'a=1', edge('/orders', 'a=1', undefined, { body: Buffer.alloc(0) }));
    assert.equal(r.status, 200, r.body);
    t.diagnostic(`${tag}: ${JSON.stringify(reasons())}`);
  } finally {
    await server.close();
    await strictServer.close();
  }
}

test('express: the bound body is compared, then handed on whole', (t) => bodyBinding(t, 'express', serveExpress));
test('fastify: the bound body is compared, then handed on whole', (t) => bodyBinding(t, 'fastify', serveFastify));

test('verify(): the body given, or read, is compared by the core', async () => {
  const { name, v1, key } = await createSecret(client, 'body-verify');
  const lines = collector();
  const verifier = new Verifier({ secretId: name, client, log: lines.log, metric: lines.metric, maxBodyBytes: 8 });
  assert.equal(verifier.maxBodyBytes, 8);
  const edge = await edgeFunction(v1, key);
  const headers = edge('/p', '', undefined, { method: 'PUT', body: Buffer.from('hello') });
  const request = { method: 'PUT', host: 'app.example.com', path: '/p', query: '', headers };
  assert.equal((await verifier.verify({ ...request, body: 'hello' })).reason, 'signature_current');
  assert.equal((await verifier.verify({ ...request, readBody: async () => Buffer.from('hello') })).allowed, true);
  for (const other of [{ body: 'hellO' }, { body: Buffer.from('hello, world') }, {}, { readBody: async () => null }]) {
    const out = await verifier.verify({ ...request, ...other });
    assert.equal(out.reason, 'body_digest_mismatch', JSON.stringify(other));
  }
  assert.throws(() => new Verifier({ secretId: name, client, maxBodyBytes: 'lots' }), /MAX_BODY_BYTES is invalid/);
  assert.throws(() => new Verifier({ secretId: name, client, requireContentDigest: 'yes' }), /REQUIRE_CONTENT_DIGEST is invalid/);
});
