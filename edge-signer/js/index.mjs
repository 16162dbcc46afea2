// edgeseal edge-signer: Lambda@Edge origin-request handler (runtime nodejs22.x, handler
// `index.handler`). Signs every request to a custom origin with an RFC 9421 hmac-sha256
// signature computed by the edgeseal signing core, compiled to WebAssembly (signer.wasm).
//
// Lambda@Edge has no environment variables: the key and its id come from config.json
// beside this file, written by edgeseal's packaging (the rotator republishes the function
// for every key). Both files are read and the module instantiated once per execution
// environment, here at module load, synchronously: init time matters more than the
// asynchronous compile's parallelism for a 125 KB module.
//
// Interface of signer.wasm: see edge-signer/src/lib.rs (crate docs) and README.md.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));

/** File names beside the handler (edge-signer/src/package.rs). */
export const WASM_FILE = 'signer.wasm';
export const CONFIG_FILE = 'config.json';

const SIGNATURE_INPUT = 'signature-input';
const SIGNATURE = 'signature';
const CONTENT_DIGEST = 'content-digest';
/** Request layout (edgeseal_edge_signer::wire): 9 u32 lengths, then the strings. */
const REQUEST_HEADER_BYTES = 36;
const ABSENT = 0xffffffff;

/** What the module's negative status codes mean (never anything secret). */
const STATUS = new Map([
  [-1, 'malformed request bytes'],
  [-2, 'signer not configured'],
  [-3, 'request method is not an HTTP token'],
  [-4, 'Host is empty or not a valid host[:port]'],
  [-5, 'request cannot be signed'],
  [-6, 'clock value is not whole seconds'],
  [-7, 'signer re-entered'],
  [-10, 'config.json is not a JSON object with format, label, keyid, key and max_age_secs'],
  [-11, 'config.json has an unsupported format'],
  [-12, 'config.json label is not an RFC 8941 key'],
  [-13, 'config.json keyid is not 1-128 printable ASCII characters without quotes'],
  [-14, 'config.json key is not base64 of 16 to 128 bytes'],
  [-15, 'config.json max_age_secs is out of range'],
  [-16, 'config.json profiles: each origin a host name, each profile apigateway or raw'],
]);

const describe = (code) => `${STATUS.get(code) ?? 'unknown error'} (code ${code})`;

/** The WASM signer: owns the instance and reuses its input buffer across requests. */
class WasmSigner {
  #exports;
  #memory;
  #view = null;
  #inputAddr = 0;
  #inputCap = 0;

  constructor(instance) {
    this.#exports = instance.exports;
    this.#memory = instance.exports.memory;
  }

  // Linear memory may grow during any call, which detaches the old ArrayBuffer.
  #buffer() {
    if (this.#view === null || this.#view.buffer !== this.#memory.buffer) {
      this.#view = Buffer.from(this.#memory.buffer);
    }
    return this.#view;
  }

  #reserve(len) {
    if (len > this.#inputCap) {
      const addr = this.#exports.edgeseal_buffer(len);
      if (addr < 0) return false;
      this.#inputAddr = addr;
      this.#inputCap = len;
    }
    return true;
  }

  /** Hand config.json's bytes to the module (which wipes its copy); 0 or a status code. */
  init(configBytes) {
    if (!this.#reserve(configBytes.length)) return -1;
    configBytes.copy(this.#buffer(), this.#inputAddr);
    return this.#exports.edgeseal_init(configBytes.length);
  }

  /**
   * Sign; returns [signatureInput, signature, contentDigest] (the last undefined when the
   * body is not bound) or a negative status code. signatureInput / signature: what the
   * viewer sent (undefined when absent); body: base64 of the whole body, or undefined.
   */
  sign(method, host, originDomain, originPath, uri, querystring, signatureInput, signature, body, nowSecs) {
    const fields = [method, host, originDomain, originPath, uri, querystring, signatureInput, signature, body];
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    let need = REQUEST_HEADER_BYTES;
    for (const f of fields) if (f !== undefined) need += 3 * f.length;
    if (!this.#reserve(need)) return -1;
    const buf = this.#buffer();
    const base = this.#inputAddr;
    let at = base + REQUEST_HEADER_BYTES;
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i];
      if (f === undefined) {
        buf.writeUInt32LE(ABSENT, base + 4 * i);
      } else {
        const n = buf.write(f, at, 'utf8');
        buf.writeUInt32LE(n, base + 4 * i);
        at += n;
      }
    }
    const n = this.#exports.edgeseal_sign(at - base, nowSecs);
    if (n < 0) return n;
    const out = this.#exports.edgeseal_output();
    const res = this.#buffer();
    const inputLen = res.readUInt32LE(out);
    const sigLen = res.readUInt32LE(out + 4);
    const digestLen = res.readUInt32LE(out + 8);
    const start = out + 12;
    const digestAt = start + inputLen + sigLen;
    return [
      res.toString('latin1', start, start + inputLen),
      res.toString('latin1', start + inputLen, digestAt),
      digestLen === ABSENT ? undefined : res.toString('latin1', digestAt, digestAt + digestLen),
    ];
  }
}

/**
 * Read config.json and signer.wasm from `dir` and instantiate the module. Returns the
 * signer, or null after logging one error (never the key): requests then go unsigned and
 * the origin denies them.
 */
export function loadSigner(dir = HERE, log = console) {
  let configBytes;
  try {
    configBytes = readFileSync(join(dir, CONFIG_FILE));
  } catch (err) {
    log.error(`edgeseal: cannot read ${CONFIG_FILE} (${err.code ?? err.name}); requests pass UNSIGNED`);
    return null;
  }
  try {
    const module = new WebAssembly.Module(readFileSync(join(dir, WASM_FILE)));
    const signer = new WasmSigner(new WebAssembly.Instance(module, {}));
    const status = signer.init(configBytes);
    if (status !== 0) {
      log.error(`edgeseal: ${describe(status)}; requests pass UNSIGNED`);
      return null;
    }
    // One signature now, during init: V8 compiles WASM functions lazily, and this moves
    // that compile out of the first viewer's request. It also proves the module works.
    const warm = signer.sign('GET', 'init.invalid', 'init.invalid', '', '/', '', undefined, undefined, undefined, 0);
    if (typeof warm === 'number') {
      log.error(`edgeseal: self-test signature failed: ${describe(warm)}; requests pass UNSIGNED`);
      return null;
    }
    return signer;
  } catch (err) {
    log.error(`edgeseal: cannot load ${WASM_FILE} (${err.code ?? err.name}: ${err.message}); requests pass UNSIGNED`);
    return null;
  } finally {
    // Our copy of the key's base64 is not needed any more.
    configBytes.fill(0);
  }
}

/** Several lines of one field, joined as one list (RFC 9110 §5.3); undefined if absent. */
function joined(lines) {
  if (lines === undefined || lines.length === 0) return undefined;
  if (lines.length === 1) return lines[0].value;
  return lines.map((h) => h.value).join(', ');
}

/**
 * The body to bind, as base64: present only when the behavior includes the body
 * ("include body") and CloudFront did not truncate it. Lambda@Edge hands an origin-request
 * function at most 1 MB of body (40 KB for viewer-request) and sets `inputTruncated`
 * beyond it (CloudFront Developer Guide, "Lambda@Edge event structure" and "Restrictions
 * on edge functions"): a truncated body cannot be bound, so the request is signed
 * without it (an origin that requires body binding denies it: body_not_signed).
 */
function wholeBody(body) {
  if (body === undefined || body === null || body.inputTruncated) return undefined;
  const data = body.data ?? '';
  return body.encoding === 'text' ? Buffer.from(data, 'utf8').toString('base64') : data;
}

/**
 * Sign one origin request in place. Custom origins only: an S3 origin is left as it is.
 * When the request cannot be signed, both signature fields are removed, so that nothing
 * a viewer sent under our label reaches the origin.
 */
export function signRequest(signer, request, nowSecs, log = console) {
  const custom = request.origin?.custom;
  if (custom === undefined) return request;
  const headers = request.headers ?? (request.headers = {});
  if (signer === null) {
    delete headers[SIGNATURE_INPUT];
    delete headers[SIGNATURE];
    return request;
  }
  // The Host CloudFront sends: the request's host header (the origin domain unless a
  // policy forwards the viewer's), else the origin domain.
  const host = headers.host?.[0]?.value ?? custom.domainName ?? '';
  const result = signer.sign(
    request.method,
    host,
    custom.domainName ?? '',
    custom.path ?? '',
    request.uri,
    request.querystring ?? '',
    joined(headers[SIGNATURE_INPUT]),
    joined(headers[SIGNATURE]),
    wholeBody(request.body),
    nowSecs,
  );
  if (typeof result === 'number') {
    log.warn(`edgeseal: request not signed: ${describe(result)}`);
    delete headers[SIGNATURE_INPUT];
    delete headers[SIGNATURE];
    return request;
  }
  headers[SIGNATURE_INPUT] = [{ key: 'Signature-Input', value: result[0] }];
  headers[SIGNATURE] = [{ key: 'Signature', value: result[1] }];
  // The digest the signature covers replaces any the viewer sent.
  if (result[2] !== undefined) headers[CONTENT_DIGEST] = [{ key: 'Content-Digest', value: result[2] }];
  return request;
}

const unixNow = () => Math.floor(Date.now() / 1000);

/**
 * A handler over the assets in `dir`; `now` returns Unix seconds (tests fix it). The
 * module's own `handler` is `createHandler()`, built once at load.
 */
export function createHandler({ dir = HERE, now = unixNow, log = console } = {}) {
  const signer = loadSigner(dir, log);
  return async (event) => signRequest(signer, event.Records[0].cf.request, now(), log);
}

export const handler = createHandler();
