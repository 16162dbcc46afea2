// Runs a Lambda@Edge zip's handler warm, as one CloudFront edge location would:
// one JSON line in on stdin ({id, event}), one JSON line out on stdout
// ({id, result} or {id, error}). The handler's own logging goes to stderr so it can
// never corrupt the protocol.
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
  console[level] = (...args) => process.stderr.write(args.map(String).join(' ') + '\n');
}

const dir = process.argv[2];
const mod = await import(pathToFileURL(join(dir, 'index.mjs')).href);
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line) continue;
  const { id, event } = JSON.parse(line);
  try {
    const result = await mod.handler(event, { functionName: 'edge-signer', awsRequestId: String(id) });
    process.stdout.write(JSON.stringify({ id, result }) + '\n');
  } catch (err) {
    process.stdout.write(JSON.stringify({ id, error: String(err && err.message ? err.message : err) }) + '\n');
  }
}
