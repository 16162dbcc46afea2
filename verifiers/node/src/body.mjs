// Reading a request body for the Content-Digest check (the comparison itself is the Rust
// core's), and leaving it for the application to read intact.

import { Readable } from 'node:stream';

/**
 * Whether the request's framing says it has a body (RFC 9112 §6.3): Transfer-Encoding,
 * or a Content-Length other than 0. Without either a request has no body, and the
 * stream is not touched.
 */
export function framesBody(headers) {
  const length = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * Read `stream` to its end, at most `limit` bytes. Resolves to the body (a Buffer), or
 * null when it is longer than `limit` or the stream fails or was already read. Past the
 * limit nothing more is kept: the rest is discarded as it arrives (what Node's server
 * does with a body nobody reads), so the connection can carry the 403 and the next
 * request.
 *
 * `putBack` (an IncomingMessage only): the bytes go back to the front of the stream
 * before it ends, so the application (a body parser, `req.on('data')`) reads the same
 * body from the same `req`. That works because the end of an IncomingMessage is known
 * (`req.complete`) at the read that drains it, and `end` is emitted only on a later tick
 * and only if nothing was put back meanwhile (Node's Readable: `unshift` is allowed
 * until `end` was emitted).
 */
export function readBody(stream, limit, { putBack = false } = {}) {
  if (stream.readableEnded || stream.destroyed) return Promise.resolve(null);
  return new Promise((resolve) => {
    const chunks = [];
    let total = 0;
    let settled = false;
    const finish = (result) => {
      if (settled) return;
      settled = true;
      stream.removeListener('readable', onReadable);
      stream.removeListener('end', onEnd);
      stream.removeListener('error', onError);
      resolve(result);
    };
    function onReadable() {
      let chunk;
      while ((chunk = stream.read()) !== null) {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        chunks.push(bytes);
        total += bytes.length;
        if (total > limit) {
          finish(null);
          chunks.length = 0;
          stream.resume();
          return;
        }
      }
      if (putBack && stream.complete === true) {
        const body = Buffer.concat(chunks, total);
        // Synchronously, before the `end` the last read() scheduled can fire.
        if (total > 0) stream.unshift(body);
        finish(body);
      }
    }
    function onEnd() {
      // Reached when nothing could be put back: an empty body, or not an IncomingMessage.
      finish(Buffer.concat(chunks, total));
    }
    function onError() {
      finish(null);
    }
    stream.on('error', onError);
    stream.on('end', onEnd);
    stream.on('readable', onReadable);
  });
}

/** A stream that yields `body` once: what a Fastify preParsing hook hands on. */
export function replay(body) {
  const stream = Readable.from([body], { objectMode: false });
  // Fastify compares this with its bodyLimit (the length as received).
  stream.receivedEncodedLength = body.length;
  return stream;
}
