// Express (and Connect-style) middleware: denied requests get 401/403 with API
// Gateway's bodies; allowed ones carry the verdict as req.edgeseal.

import { Verifier, denyStatus, fromNodeRequest } from './verifier.mjs';

const BODY = { 401: '{"message":"Unauthorized"}', 403: '{"message":"Forbidden"}' };

/** `options`: a Verifier, or its options; `onDeny(req, res, outcome)` to answer yourself. */
export function edgeseal(options = {}) {
  const verifier = options instanceof Verifier ? options : new Verifier(options);
  const onDeny = options.onDeny ?? ((req, res, outcome) => {
    const status = denyStatus(outcome);
    res.statusCode = status;
    res.setHeader('content-type', 'application/json');
    res.end(BODY[status]);
  });
  return function edgesealMiddleware(req, res, next) {
    verifier.verify(fromNodeRequest(req)).then((outcome) => {
      if (outcome.allowed) {
        req.edgeseal = outcome;
        next();
      } else {
        onDeny(req, res, outcome);
      }
    }, next);
  };
}
