// The real handler (index.mjs + the built signer.wasm) over origin-request events.
//   node --test edge-signer/js/test/*.test.mjs

import assert from 'node:assert/strict';
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';

import { createCryptoSigner } from '../bench/node-crypto-signer.mjs';
import {
  CUSTOM_FIXTURES, KEY_B64, KEYID, VECTORS, config, event, fixture, functionDir, importHandler, recorder,
} from '../support/test-support.mjs';

const NOW = 1_767_225_600;
const mod = await importHandler(functionDir());

function handlerFor(cfg, now = NOW) {
  const log = recorder();
  const handler = mod.createHandler({ dir: functionDir(cfg), now: () => now, log });
  return { handler, log };
}

const requestOf = (ev) => ev.Records[0].cf.request;
const value = (request, name) => request.headers[name]?.map((h) => h.value);
const withoutSignature = (headers) => {
  const { 'signature-input': _i, signature: _s, ...rest } = headers;
  return rest;
};

describe('signatures equal the shared vectors (computed independently)', () => {
  const { handler } = handlerFor(
    config({ keyid: VECTORS.keyid, key: VECTORS.key_base64, max_age_secs: 0 }),
    VECTORS.created,
  );
  for (const c of VECTORS.cases) {
    test(c.name, async () => {
      const ev = event({ method: c.method, host: c.host, originPath: c.origin_path, uri: c.uri, querystring: c.raw_query });
      const out = await handler(ev);
      assert.deepEqual(out.headers['signature-input'], [{ key: 'Signature-Input', value: c.signature_input }]);
      assert.deepEqual(out.headers.signature, [{ key: 'Signature', value: c.signature }]);
    });
  }
});

describe('request handling', () => {
  const { handler, log } = handlerFor(config());

  test('the module export signs with the config beside it, at the current time', async () => {
    const dir = functionDir(config({ keyid: 'module-key' }));
    const { handler: exported } = await importHandler(dir);
    const before = Math.floor(Date.now() / 1000);
    const out = await exported(fixture('origin-request-custom'));
    const input = value(out, 'signature-input')[0];
    const created = Number(/;created=(\d+);/.exec(input)[1]);
    assert.ok(created >= before && created <= before + 2, input);
    assert.match(input, /;expires=\d+;keyid="module-key";alg="hmac-sha256";tag="edgeseal"$/);
  });

  test('expires is created + max_age_secs', async () => {
    const out = await handler(fixture('origin-request-custom'));
    assert.match(value(out, 'signature-input')[0], new RegExp(`;created=${NOW};expires=${NOW + 300};keyid="${KEYID}";`));
  });

  for (const name of CUSTOM_FIXTURES) {
    test(`${name}: only the two signature fields change`, async () => {
      const original = fixture(name);
      const out = await handler(fixture(name));
      const before = requestOf(original);
      assert.deepEqual(withoutSignature(out.headers), withoutSignature(before.headers));
      assert.deepEqual({ ...out, headers: null }, { ...before, headers: null });
      assert.equal(out.headers['signature-input'].length, 1);
      assert.equal(out.headers.signature.length, 1);
    });
  }

  test('identical to a hand-written node:crypto signer on every fixture without viewer signatures', async () => {
    const reference = createCryptoSigner(config());
    for (const name of CUSTOM_FIXTURES.filter((n) => n !== 'origin-request-spoofed')) {
      const ours = await handler(fixture(name));
      const theirs = reference(requestOf(fixture(name)), NOW);
      assert.deepEqual(ours, theirs, name);
    }
  });

  test('Host falls back to the origin domain when the request has no host header', async () => {
    const noHost = await handler(fixture('origin-request-no-host'));
    const ev = fixture('origin-request-no-host');
    const req = requestOf(ev);
    req.headers.host = [{ key: 'Host', value: req.origin.custom.domainName }];
    const withHost = await handler(ev);
    assert.deepEqual(noHost.headers.signature, withHost.headers.signature);
  });

  test('a forwarded Host is what gets signed, not the origin domain', async () => {
    const forwarded = await handler(fixture('origin-request-host-forwarded'));
    const ev = fixture('origin-request-host-forwarded');
    delete requestOf(ev).headers.host;
    const originDomain = await handler(ev);
    assert.notDeepEqual(forwarded.headers.signature, originDomain.headers.signature);
  });

  test('equivalent raw forms sign the same; different requests do not', async () => {
    const sig = async (e) => value(await handler(event(e)), 'signature')[0];
    const base = { host: 'api.example.com', originPath: '/prod', uri: '/~user/a b', querystring: 'b=2&a=1&a=0' };
    const s = await sig(base);
    assert.equal(await sig({ ...base, uri: '/%7euser/a%20b' }), s);
    // Names may move (REST APIs do not keep their order); values of one name may not.
    assert.equal(await sig({ ...base, querystring: 'a=1&&a=0&b=2' }), s);
    assert.equal(await sig({ ...base, host: 'API.example.com:443' }), s);
    assert.equal(await sig({ ...base, originPath: '/prod/' }), s);
    for (const changed of [
      { ...base, method: 'POST' }, { ...base, host: 'api.example.org' }, { ...base, originPath: '/dev' },
      { ...base, uri: '/~user/a%2520b' }, { ...base, querystring: 'b=2&a=1' }, { ...base, querystring: 'b=2&a=1&a=0&c' },
      { ...base, querystring: 'b=2&a=0&a=1' },
    ]) {
      assert.notEqual(await sig(changed), s, JSON.stringify(changed));
    }
  });

  test('viewer members under our label are removed, foreign labels kept, across header lines', async () => {
    const out = await handler(fixture('origin-request-spoofed'));
    const [input] = value(out, 'signature-input');
    const [signature] = value(out, 'signature');
    assert.ok(input.startsWith('partner=("@method" "@path");created=1767225000;keyid="partner-key", edgeseal=("@method" "@authority" "@path" "@query");'), input);
    assert.ok(!input.includes('attacker'), input);
    assert.equal((input.match(/edgeseal=/g) ?? []).length, 1);
    assert.ok(signature.startsWith('partner=:cGFydG5lci1zaWduYXR1cmU=:, edgeseal=:'), signature);
    assert.ok(!signature.includes('c3Bvb2ZlZC1zaWduYXR1cmUtYnktdmlld2Vy'), signature);
    // Our member is the one a clean request gets.
    const clean = fixture('origin-request-spoofed');
    delete requestOf(clean).headers['signature-input'];
    delete requestOf(clean).headers.signature;
    const cleanOut = await handler(clean);
    assert.ok(input.endsWith(value(cleanOut, 'signature-input')[0]));
    assert.ok(signature.endsWith(value(cleanOut, 'signature')[0]));
    assert.deepEqual(out.headers.cookie, requestOf(fixture('origin-request-spoofed')).headers.cookie);
    assert.deepEqual(out.headers.accept, requestOf(fixture('origin-request-spoofed')).headers.accept);
  });

  test('S3 origins pass untouched, even with signature fields', async () => {
    const out = await handler(fixture('origin-request-s3'));
    assert.deepEqual(out, requestOf(fixture('origin-request-s3')));
  });

  test('long and non-ASCII inputs (buffer growth) sign as the reference does', async () => {
    const reference = createCryptoSigner(config());
    for (const n of [1, 100, 3000, 20000]) {
      const e = { host: 'api.example.com', originPath: '/prod', uri: '/' + 'é/€/😀/%41%zz '.repeat(n), querystring: 'q=' + 'ü%20+&x='.repeat(n) };
      assert.deepEqual(await handler(event(e)), reference(requestOf(event(e)), NOW), `n=${n}`);
    }
    // And back to a short one after the buffers grew.
    const short = { host: 'h.example', uri: '/s' };
    assert.deepEqual(await handler(event(short)), reference(requestOf(event(short)), NOW));
  });

  test('an unsignable request goes on without signature fields, with a warning', async () => {
    const out = await handler(event({
      host: 'bad host', headers: { signature: [{ key: 'Signature', value: 'edgeseal=:AAAA:' }] },
    }));
    assert.equal(out.headers.signature, undefined);
    assert.equal(out.headers['signature-input'], undefined);
    assert.match(log.lines.warn.at(-1), /Host is empty or not a valid host\[:port\] \(code -4\)/);
    const bad = await handler(event({ method: 'GE T', host: 'h.example' }));
    assert.equal(bad.headers.signature, undefined);
    assert.match(log.lines.warn.at(-1), /method/);
    assert.equal(log.lines.error.length, 0);
  });
});

describe('missing or invalid config: one clear error, never the key, requests unsigned', () => {
  const cases = [
    ['no config.json', null, /cannot read config\.json \(ENOENT\)/],
    ['not JSON', '{"format":1,', /config\.json is not a JSON object/],
    ['missing field', JSON.stringify({ format: 1, label: 'edgeseal', keyid: KEYID, key: KEY_B64 }), /not a JSON object with format/],
    ['unknown format', config({ format: 2 }), /unsupported format/],
    ['bad label', config({ label: 'Edge Seal' }), /label is not an RFC 8941 key/],
    ['bad keyid', config({ keyid: 'has "quotes"' }), /keyid is not/],
    ['short key', config({ key: Buffer.alloc(8, 1).toString('base64') }), /key is not base64 of 16 to 128 bytes/],
    ['key not base64', config({ key: `${KEY_B64}!!` }), /key is not base64/],
    ['max age too large', config({ max_age_secs: 10 ** 9 }), /max_age_secs is out of range/],
  ];
  for (const [name, cfg, message] of cases) {
    test(name, async () => {
      const { handler, log } = handlerFor(cfg);
      for (let i = 0; i < 3; i++) {
        const out = await handler(fixture('origin-request-spoofed'));
        assert.equal(out.headers.signature, undefined);
        assert.equal(out.headers['signature-input'], undefined);
        assert.deepEqual(out.headers.cookie, requestOf(fixture('origin-request-spoofed')).headers.cookie);
      }
      assert.equal(log.lines.error.length, 1, log.lines.error.join('\n'));
      assert.match(log.lines.error[0], message);
      assert.match(log.lines.error[0], /requests pass UNSIGNED/);
      const key = typeof cfg === 'object' && cfg !== null ? cfg.key : KEY_B64;
      assert.ok(!log.lines.error[0].includes(key));
      assert.ok(!log.lines.error[0].includes(KEY_B64));
    });
  }

  test('no signer.wasm', async () => {
    const log = recorder();
    const handler = mod.createHandler({ dir: functionDir(config(), { wasm: false }), log });
    const out = await handler(fixture('origin-request-custom'));
    assert.equal(out.headers.signature, undefined);
    assert.equal(log.lines.error.length, 1);
    assert.match(log.lines.error[0], /cannot load signer\.wasm \(ENOENT/);
  });

  test('a corrupt signer.wasm', async () => {
    const dir = functionDir(config());
    renameSync(join(dir, 'index.mjs'), join(dir, 'signer.wasm'));
    const log = recorder();
    const handler = mod.createHandler({ dir, log });
    const out = await handler(fixture('origin-request-custom'));
    assert.equal(out.headers.signature, undefined);
    assert.match(log.lines.error[0], /cannot load signer\.wasm \(CompileError/);
  });
});

describe('signing profiles per origin, body binding', () => {
  const profiles = { default: 'apigateway', origins: { 'alb.example.com': 'raw' } };
  const { handler } = handlerFor(config({ profiles }));
  // What CloudFront hands an origin-request function when the behavior includes the body
  // (CloudFront Developer Guide, "Lambda@Edge event structure": body.action, encoding,
  // data (base64), inputTruncated).
  const withBody = (e, body) => {
    const ev = event(e);
    requestOf(ev).body = body;
    return ev;
  };
  const albRequest = { host: 'alb.example.com', uri: '/a%2fb', querystring: 'b=2&a=1' };

  test('a raw origin gets a raw-tagged signature, the API Gateway origin stays apigateway', async () => {
    const raw = await handler(event(albRequest));
    assert.match(value(raw, 'signature-input')[0], /;tag="edgeseal-raw"$/);
    assert.equal(raw.headers['content-digest'], undefined);
    const api = await handler(event({ host: 'abc.execute-api.us-east-1.amazonaws.com', uri: '/prod/x' }));
    assert.match(value(api, 'signature-input')[0], /;tag="edgeseal"$/);
  });

  test('an included body is bound with Content-Digest (replacing the viewer\'s), covered', async () => {
    const body = Buffer.from('{"n":1}');
    const out = await handler(withBody(
      { ...albRequest, method: 'POST', headers: { 'content-digest': [{ key: 'Content-Digest', value: 'sha-256=:AAAA:' }] } },
      { action: 'read-only', encoding: 'base64', inputTruncated: false, data: body.toString('base64') },
    ));
    const { createHash } = await import('node:crypto');
    const digest = `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;
    assert.deepEqual(out.headers['content-digest'], [{ key: 'Content-Digest', value: digest }]);
    assert.match(value(out, 'signature-input')[0], /^edgeseal=\("@method" "@authority" "@path" "@query" "content-digest"\);/);
  });

  test('a truncated body is not bound: signed without Content-Digest', async () => {
    const out = await handler(withBody(
      { ...albRequest, method: 'POST' },
      { action: 'read-only', encoding: 'base64', inputTruncated: true, data: 'eyJu' },
    ));
    assert.equal(out.headers['content-digest'], undefined);
    assert.match(value(out, 'signature-input')[0], /^edgeseal=\("@method" "@authority" "@path" "@query"\);/);
  });

  test('an API Gateway origin never binds the body', async () => {
    const out = await handler(withBody(
      { host: 'api.example.com', uri: '/prod/x', method: 'POST' },
      { action: 'read-only', encoding: 'base64', inputTruncated: false, data: 'eyJuIjoxfQ==' },
    ));
    assert.equal(out.headers['content-digest'], undefined);
  });
});
