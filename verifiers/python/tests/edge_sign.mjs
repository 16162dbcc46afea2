// The real edge function as a signing service for the Python tests: one JSON line in
// ({dir, path, query, now, method, body}) → one JSON line out (the signature fields the
// edge added to the CloudFront origin request). `body` (base64): the behavior includes
// the body, as CloudFront hands it to an origin-request function (not truncated), so
// the edge binds it with Content-Digest. `dir` holds index.mjs, signer.wasm and config.json,
// as the rotator packages them; each is loaded once.
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const HOST = 'app.example.com';
const edges = new Map();

async function edgeAt(dir) {
  let edge = edges.get(dir);
  if (edge === undefined) {
    const module = await import(pathToFileURL(join(dir, 'index.mjs')).href);
    const signer = module.loadSigner(dir, { error: (m) => { throw new Error(m); } });
    edge = { module, signer };
    edges.set(dir, edge);
  }
  return edge;
}

for await (const line of createInterface({ input: process.stdin })) {
  const { dir, path, query, now, method = 'GET', body } = JSON.parse(line);
  const { module, signer } = await edgeAt(dir);
  const request = {
    method, uri: path, querystring: query,
    headers: { host: [{ key: 'Host', value: HOST }] },
    origin: { custom: { domainName: 'origin.example.com', path: '' } },
  };
  if (body !== undefined && body !== null) {
    request.body = { inputTruncated: false, action: 'read-only', encoding: 'base64', data: body };
  }
  module.signRequest(signer, request, now, { warn: (m) => { throw new Error(m); } });
  const fields = {
    'signature-input': request.headers['signature-input'][0].value,
    signature: request.headers.signature[0].value,
  };
  const digest = request.headers['content-digest']?.[0]?.value;
  if (digest !== undefined) fields['content-digest'] = digest;
  process.stdout.write(`${JSON.stringify(fields)}\n`);
}
