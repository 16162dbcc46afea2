// Fastify plugin: an onRequest hook on every route of the instance it is registered on
// (not encapsulated, as fastify-plugin would mark it). Denied requests get 401/403 with
// API Gateway's bodies; allowed ones carry the verdict as request.edgeseal.

import { Verifier, denyStatus, fromNodeRequest } from './verifier.mjs';

const BODY = { 401: { message: 'Unauthorized' }, 403: { message: 'Forbidden' } };

/** Register with `app.register(edgeseal, options)`; options: a Verifier's, or `verifier`. */
export async function edgeseal(app, options = {}) {
  const verifier = options.verifier ?? new Verifier(options);
  app.decorateRequest('edgeseal', null);
  app.addHook('onRequest', async (request, reply) => {
    const outcome = await verifier.verify(fromNodeRequest(request.raw));
    if (!outcome.allowed) {
      const status = denyStatus(outcome);
      return reply.code(status).send(BODY[status]);
    }
    request.edgeseal = outcome;
  });
}
// Skip Fastify's encapsulation, so the hook covers the routes of the parent instance.
edgeseal[Symbol.for('skip-override')] = true;
edgeseal[Symbol.for('fastify.display-name')] = 'edgeseal';
