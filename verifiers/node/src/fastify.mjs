// Fastify plugin: a preParsing hook on every route of the instance it is registered on
// (not encapsulated, as fastify-plugin would mark it). preParsing, not onRequest: it is
// the hook that receives the body stream and may hand the parser another one, which
// body binding needs (the body is read for the Content-Digest check, then handed on
// whole). Denied requests get 401/403 with API Gateway's bodies; allowed ones carry the
// verdict as request.edgeseal.

import { framesBody, readBody, replay } from './body.mjs';
import { Verifier, denyStatus, fromNodeRequest } from './verifier.mjs';

const BODY = { 401: { message: 'Unauthorized' }, 403: { message: 'Forbidden' } };

/** Register with `app.register(edgeseal, options)`; options: a Verifier's, or `verifier`. */
export async function edgeseal(app, options = {}) {
  const verifier = options.verifier ?? new Verifier(options);
  app.decorateRequest('edgeseal', null);
  app.addHook('preParsing', async (request, reply, payload) => {
    let read = null;
    const outcome = await verifier.verify({
      ...fromNodeRequest(request.raw),
      // The stream the parser would read (another preParsing hook's, if one ran first).
      readBody: async (limit) => {
        if (!framesBody(request.headers)) return Buffer.alloc(0);
        read = await readBody(payload, limit);
        return read;
      },
    });
    if (!outcome.allowed) {
      const status = denyStatus(outcome);
      // Returning the reply (a thenable) makes Fastify wait for it to be sent.
      return reply.code(status).send(BODY[status]);
    }
    request.edgeseal = outcome;
    // The body was read for its digest: the parser gets it whole.
    return read === null ? payload : replay(read);
  });
}
// Skip Fastify's encapsulation, so the hook covers the routes of the parent instance.
edgeseal[Symbol.for('skip-override')] = true;
edgeseal[Symbol.for('fastify.display-name')] = 'edgeseal';
