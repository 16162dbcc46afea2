// The key rules and the verdict lines of the Node.js verifier, against Secrets Manager
// on moto through @aws-sdk/client-secrets-manager, with requests signed by the real edge.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { SecretsManagerSource, Verifier, resolveSettings } from '../src/index.mjs';
import {
  CountingSource, HOST, collector, createSecret, edgeFunction, motoClient, promote, putPending,
} from './support.mjs';

const client = motoClient();
const T0 = Math.floor(Date.now() / 1000);

/** A verifier over the secret with a settable clock (seconds) and counted calls. */
function verifierFor(name, settings = {}) {
  const source = new CountingSource(new SecretsManagerSource({ client, secretId: name }));
  const clock = { now: T0 };
  const out = collector();
  const verifier = new Verifier({
    secretId: name, source, clock: () => clock.now * 1000,
    log: out.log, metric: out.metric, logLevel: 'debug', ...settings,
  });
  return { verifier, source, clock, out };
}

const request = (headers, path = '/orders', query = 'a=1') => ({
  method: 'GET', host: HOST, path, query, headers,
});

test('warm requests make no Secrets Manager call', async () => {
  const { name, v1, key } = await createSecret(client, 'warm');
  const { verifier, source, clock } = verifierFor(name);
  const sign = await edgeFunction(v1, key);
  const first = await verifier.verify(request(sign('/orders', 'a=1', T0)));
  assert.equal(first.reason, 'signature_current');
  assert.equal(source.lists, 1);
  assert.equal(source.gets, 1);
  for (let i = 0; i < 200; i++) {
    clock.now = T0 + (i % 200);
    const out = await verifier.verify(request(sign('/orders', `a=${i}`, clock.now), '/orders', `a=${i}`));
    assert.equal(out.allowed, true, out.reason);
  }
  assert.equal(source.calls, 2, 'no call per request within the TTL (300 s)');
});

test('an unknown keyid refreshes once, rate-limited, and finds AWSPENDING', async () => {
  const { name, v1, key } = await createSecret(client, 'pending');
  const { verifier, source, clock } = verifierFor(name);
  await verifier.verify(request((await edgeFunction(v1, key))('/orders', 'a=1', T0)));
  const pending = await putPending(client, name);
  const signNew = await edgeFunction(pending.version, pending.key);
  const out = await verifier.verify(request(signNew('/orders', 'a=1', T0)));
  assert.deepEqual([out.allowed, out.stage], [true, 'pending']);
  assert.equal(source.lists, 2);
  // Forged key ids: one refresh per UNKNOWN_KEY_MIN_INTERVAL_SECS (10 s), whatever the rate.
  const forged = await edgeFunction('forged-keyid', pending.key);
  clock.now = T0 + 1;
  for (let i = 0; i < 50; i++) {
    const denied = await verifier.verify(request(forged('/orders', 'a=1', clock.now)));
    assert.equal(denied.reason, 'unknown_key');
  }
  assert.equal(source.lists, 2, 'within 10 s of the last on-demand refresh: none');
  clock.now = T0 + 12;
  await verifier.verify(request(forged('/orders', 'a=1', clock.now)));
  assert.equal(source.lists, 3);
});

test('AWSPREVIOUS is accepted for the grace from the refresh that saw the demotion', async () => {
  const { name, v1, key } = await createSecret(client, 'grace');
  const { verifier, clock } = verifierFor(name, { cacheTtlSecs: 60, previousKeyGraceSecs: 600 });
  const signOld = await edgeFunction(v1, key);
  await verifier.verify(request(signOld('/orders', 'a=1', T0)));
  const pending = await putPending(client, name);
  await promote(client, name, pending.version, v1);
  clock.now = T0 + 60; // the TTL refresh notices the demotion (waited on: it is due)
  await verifier.refresh();
  clock.now = T0 + 659;
  const inside = await verifier.verify(request(signOld('/orders', 'a=1', clock.now)));
  assert.deepEqual([inside.allowed, inside.stage], [true, 'previous']);
  clock.now = T0 + 660;
  const after = await verifier.verify(request(signOld('/orders', 'a=1', clock.now)));
  assert.equal(after.reason, 'previous_key_retired');
});

test('stale keys serve while Secrets Manager fails, until TTL + MAX_STALE_SECS', async () => {
  const { name, v1, key } = await createSecret(client, 'stale');
  const { verifier, source, clock, out } = verifierFor(name, { cacheTtlSecs: 10, maxStaleSecs: 30 });
  const sign = await edgeFunction(v1, key);
  await verifier.verify(request(sign('/orders', 'a=1', T0)));
  source.failing = true;
  clock.now = T0 + 39;
  const stale = await verifier.verify(request(sign('/orders', 'a=1', clock.now)));
  assert.equal(stale.allowed, true, stale.reason);
  await new Promise((resolve) => setImmediate(resolve)); // the background refresh settles
  assert.ok(out.logs.some((l) => l.reason === 'secrets_manager_error' && l.serving_cached === true));
  clock.now = T0 + 40;
  const closed = await verifier.verify(request(sign('/orders', 'a=1', clock.now)));
  assert.equal(closed.reason, 'no_keys');
  assert.ok(out.logs.some((l) => l.reason === 'keys_expired'));
  source.failing = false;
  clock.now = T0 + 51;
  const back = await verifier.verify(request(sign('/orders', 'a=1', clock.now)));
  assert.equal(back.allowed, true, back.reason);
});

test('every deny is logged and counted as the authorizer does', async () => {
  const { name, v1, key } = await createSecret(client, 'lines');
  const { verifier, out } = verifierFor(name);
  const sign = await edgeFunction(v1, key);
  await verifier.verify({ ...request(sign('/orders', 'a=1', T0 - 400)), requestId: 'req-1' });
  const deny = out.logs.at(-1);
  assert.deepEqual(Object.keys(deny), ['timestamp', 'level', 'message', 'request_id', 'reason', 'keyid']);
  assert.deepEqual([deny.level, deny.message, deny.reason, deny.keyid, deny.request_id],
    ['WARN', 'deny', 'too_old', v1, 'req-1']);
  assert.deepEqual(out.metrics.at(-1), {
    _aws: {
      Timestamp: T0 * 1000,
      CloudWatchMetrics: [{
        Namespace: 'edgeseal',
        Dimensions: [['Verdict'], ['Verdict', 'Reason']],
        Metrics: [{ Name: 'Requests', Unit: 'Count' }],
      }],
    },
    Verdict: 'deny', Reason: 'too_old', Requests: 1, RequestId: 'req-1',
  });
  for (const line of out.logs) assert.ok(!JSON.stringify(line).includes(key), 'no key material in logs');
});

test('settings use the authorizer names, options over the environment', () => {
  const settings = resolveSettings({ cacheTtlSecs: 5 }, { SECRET_ID: 's', CACHE_TTL_SECS: '60', MAX_STALE_SECS: '7' });
  assert.deepEqual(settings, { SECRET_ID: 's', CACHE_TTL_SECS: '5', MAX_STALE_SECS: '7' });
  assert.throws(() => new Verifier({ env: {}, source: {} }), /SECRET_ID is required/);
  assert.throws(() => new Verifier({ env: { SECRET_ID: 's', MAX_AGE_SECS: 'soon' }, source: {} }),
    /MAX_AGE_SECS is invalid/);
});

test('the origin\'s signing profile decides; the other profile is wrong_profile', async () => {
  const { name, v1, key } = await createSecret(client, 'profile');
  const apigatewayEdge = await edgeFunction(v1, key, 'apigateway');
  const raw = verifierFor(name).verifier;
  const denied = await raw.verify(request(apigatewayEdge('/orders', 'a=1', T0)));
  assert.equal(denied.reason, 'wrong_profile');
  const apigateway = verifierFor(name, { signingProfile: 'apigateway' }).verifier;
  const allowed = await apigateway.verify(request(apigatewayEdge('/orders', 'a=1', T0)));
  assert.equal(allowed.reason, 'signature_current');
  assert.throws(() => verifierFor(name, { signingProfile: 'fast' }), /SIGNING_PROFILE is invalid/);
});
