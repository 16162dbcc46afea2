// A shortened run of the demo's scenario through each framework: traffic signed by the
// real edge function, a key rotation in the middle driven on Secrets Manager (moto) as
// the rotator drives it (AWSPENDING, then AWSCURRENT, the old key AWSPREVIOUS), edges on
// the old and the new key side by side while CloudFront propagates, and attacks
// (unsigned, forged, tampered, replayed after expiry) sent straight to the origin.
// Passes with 0 legitimate requests rejected and 0 attacks through.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import express from 'express';
import Fastify from 'fastify';

import { Verifier, express as expressEdgeseal, fastify as fastifyEdgeseal } from '../src/index.mjs';
import {
  collector, createSecret, edgeFunction, motoClient, newKey, promote, putPending, send,
} from './support.mjs';

const client = motoClient();
const PER_PHASE = 40;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function serveExpress(verifier) {
  const app = express();
  app.use(expressEdgeseal(verifier));
  app.get('/{*any}', (req, res) => res.json({ ok: true, keyid: req.edgeseal.keyid }));
  const server = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
  return { port: server.address().port, close: () => new Promise((r) => server.close(r)) };
}

async function serveFastify(verifier) {
  const app = Fastify();
  await app.register(fastifyEdgeseal, { verifier });
  app.get('/*', async (request) => ({ ok: true, keyid: request.edgeseal.keyid }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { port: app.server.address().port, close: () => app.close() };
}

async function scenario(t, tag, serve) {
  const { name, v1, key } = await createSecret(client, tag);
  const lines = collector();
  const verifier = new Verifier({
    secretId: name, client, cacheTtlSecs: 1, unknownKeyMinIntervalSecs: 1,
    log: lines.log, metric: lines.metric,
  });
  const server = await serve(verifier);
  const tally = { legit: 0, rejected: [], attacks: 0, through: [] };
  let n = 0;
  const legit = async (edge) => {
    const query = `id=${++n}&b=two%20words&a=1`;
    const r = await send(server.port, '/orders/caf%C3%A9', query, edge('/orders/caf%C3%A9', query));
    tally.legit++;
    if (r.status !== 200) tally.rejected.push(`${r.status} ${r.body}`);
  };
  const attack = async (kind, path, query, headers) => {
    const r = await send(server.port, path, query, headers);
    tally.attacks++;
    if (r.status === 200 || r.status >= 500) tally.through.push(`${kind}: ${r.status}`);
  };
  const attacks = async (edge, keyid) => {
    const forged = await edgeFunction(keyid, newKey().key);
    await attack('unsigned', '/orders', 'a=1', {});
    await attack('forged', '/orders', 'a=1', forged('/orders', 'a=1'));
    await attack('tampered path', '/admin', 'a=1', edge('/orders', 'a=1'));
    await attack('tampered query', '/orders', 'a=2', edge('/orders', 'a=1'));
    await attack('replayed after expiry', '/orders', 'a=1', edge('/orders', 'a=1', Math.floor(Date.now() / 1000) - 400));
  };
  const phase = async (edges, keyid) => {
    for (let i = 0; i < PER_PHASE; i++) await legit(edges[i % edges.length]);
    await attacks(edges[0], keyid);
  };

  const edge1 = await edgeFunction(v1, key);
  await phase([edge1], v1);                                    // steady state
  const pending = await putPending(client, name);              // createSecret
  const edge2 = await edgeFunction(pending.version, pending.key); // setSecret: new edge version
  await phase([edge1, edge2], pending.version);                // propagating, key pending
  await promote(client, name, pending.version, v1);            // finishSecret
  await phase([edge1, edge2], pending.version);                // old edges still signing
  await sleep(1100);                                           // a TTL refresh sees the demotion
  await phase([edge2, edge1], pending.version);                // AWSPREVIOUS within its grace
  await server.close();

  const byReason = {};
  for (const m of lines.metrics) byReason[`${m.Verdict}:${m.Reason}`] = (byReason[`${m.Verdict}:${m.Reason}`] ?? 0) + 1;
  t.diagnostic(`${tag}: ${tally.legit} legitimate, ${tally.rejected.length} rejected; ${tally.attacks} attacks, ${tally.through.length} through; ${JSON.stringify(byReason)}`);
  assert.deepEqual(tally.rejected, [], 'legitimate requests rejected');
  assert.deepEqual(tally.through, [], 'attacks through');
  for (const reason of ['missing', 'bad_signature', 'too_old']) assert.ok(byReason[`deny:${reason}`] > 0, reason);
  for (const reason of ['signature_current', 'signature_pending', 'signature_previous']) {
    assert.ok(byReason[`allow:${reason}`] > 0, reason);
  }
}

test('express: rotation under traffic, attacks denied', (t) => scenario(t, 'express', serveExpress));
test('fastify: rotation under traffic, attacks denied', (t) => scenario(t, 'fastify', serveFastify));
