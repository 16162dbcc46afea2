// Check edgeseal signatures with the stock npm `http-message-signatures`, and sign the
// same requests with it (tests/tests/interop.rs reads the output). Same input and output
// as check.py. The package is installed from this folder's lockfile into
// $EDGESEAL_INTEROP_NODE_MODULES/.. (default target/interop), see scripts/test.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const dir = process.env.EDGESEAL_INTEROP_DIR ?? join(process.cwd(), 'target', 'interop');
const { httpbis, createSigner, createVerifier } = createRequire(join(dir, 'package.json'))('http-message-signatures');

const COMPONENTS = ['@method', '@authority', '@path', '@query'];
const corpus = JSON.parse(readFileSync(process.argv[2], 'utf8'));
// The tag states the signing profile (edgeseal: apigateway, edgeseal-raw: raw).
const tag = corpus.tag ?? 'edgeseal';
const key = Buffer.from(corpus.key_base64, 'base64');
const keyLookup = async (params) =>
  params.keyid === corpus.keyid ? { id: corpus.keyid, algs: ['hmac-sha256'], verify: createVerifier(key, 'hmac-sha256') } : null;

const out = [];
for (const r of corpus.requests) {
  const result = { verified: false, error: null };
  const headers = { 'signature-input': r.signature_input, signature: r.signature };
  try {
    const ok = await httpbis.verifyMessage(
      { keyLookup, maxAge: 300, requiredFields: COMPONENTS, requiredParams: ['created', 'keyid'] },
      { method: r.method, url: r.url, headers },
    );
    result.verified = ok === true;
    if (!result.verified) result.error = `verifyMessage returned ${ok}`;
  } catch (e) {
    result.error = `${e.name}: ${e.message}`;
  }
  const signed = await httpbis.signMessage(
    {
      key: createSigner(key, 'hmac-sha256', corpus.keyid),
      name: 'edgeseal',
      fields: COMPONENTS,
      params: ['created', 'keyid', 'alg', 'tag'],
      paramValues: { created: new Date(corpus.created * 1000), tag },
    },
    { method: r.method, url: r.url, headers: {} },
  );
  result.signature_input = signed.headers['Signature-Input'];
  result.signature = signed.headers.Signature;
  out.push(result);
}
process.stdout.write(JSON.stringify(out));
