// edgeseal verifier for Node.js: checks the RFC 9421 signature edgeseal's edge function
// puts on every CloudFront origin request, with the authorizer's key rules, over the
// Rust core compiled to WASM. See README.md.

import { Verifier, fromNodeRequest } from './verifier.mjs';

export { Verifier, fromNodeRequest, resolveSettings, denyStatus, VARIABLES } from './verifier.mjs';
export { SecretsManagerSource, SourceError } from './keys.mjs';
export { edgeseal as express } from './express.mjs';
export { edgeseal as fastify } from './fastify.mjs';

let shared = null;

/**
 * Verify one request with a verifier configured from the environment (created on first
 * use). `request`: an IncomingMessage, or {method, host, path, query, headers}.
 */
export function verify(request) {
  shared ??= new Verifier();
  const plain = typeof request.method === 'string' && 'path' in request && !('socket' in request)
    ? request
    : fromNodeRequest(request);
  return shared.verify(plain);
}
