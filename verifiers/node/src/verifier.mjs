// A verifier for one secret: the WASM engine decides, this file does the I/O (Secrets
// Manager through the AWS SDK, the clock, log and metric output).

import { framesBody, readBody } from './body.mjs';
import { DEFAULT_WASM, WasmEngine } from './engine.mjs';
import { SecretsManagerSource, defaultClient } from './keys.mjs';

/** The authorizer's variables (origin-verifier/README.md); options are their camelCase. */
export const VARIABLES = [
  'SECRET_ID', 'SECRET_NAME', 'SIGNATURE_LABEL', 'SIGNATURE_TAG', 'MAX_AGE_SECS',
  'CLOCK_SKEW_SECS', 'PREVIOUS_KEY_GRACE_SECS', 'CACHE_TTL_SECS', 'MAX_STALE_SECS',
  'REFRESH_RETRY_SECS', 'UNKNOWN_KEY_MIN_INTERVAL_SECS', 'SECRETS_MANAGER_TIMEOUT_MS',
  'SECRET_KEY_NAME', 'METRICS_NAMESPACE', 'SIGNING_PROFILE', 'REQUIRE_CONTENT_DIGEST',
  'MAX_BODY_BYTES',
];

const camel = (name) => name.toLowerCase().replace(/_([a-z])/g, (_, c) => c.toUpperCase());
const LEVELS = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, off: 5 };
const SIGNATURE_HEADERS = ['signature-input', 'signature', 'content-digest'];

/** Settings: each option (camelCase) over its environment variable. */
export function resolveSettings(options = {}, env = process.env) {
  const settings = {};
  for (const name of VARIABLES) {
    const value = options[camel(name)] ?? env[name];
    if (value !== undefined && value !== null) settings[name] = String(value);
  }
  return settings;
}

const writeStdout = (line) => { process.stdout.write(`${line}\n`); };

/**
 * The parts of a request a signature covers, from Node's IncomingMessage, and
 * `readBody(limit)`: the body, read only when the signature binds it, then put back
 * into `req` for the application (see body.mjs).
 */
export function fromNodeRequest(req) {
  const url = req.originalUrl ?? req.url ?? '/';
  const q = url.indexOf('?');
  return {
    method: req.method,
    host: req.headers.host,
    path: q < 0 ? url : url.slice(0, q),
    query: q < 0 ? '' : url.slice(q + 1),
    headers: req.headersDistinct ?? req.headers,
    requestId: req.headers['x-amz-cf-id'] ?? req.headers['x-request-id'],
    readBody: (limit) => (framesBody(req.headers)
      ? readBody(req, limit, { putBack: true })
      : Promise.resolve(Buffer.alloc(0))),
  };
}

const encoder = new TextEncoder();

/** The body the request brings: `body` as given, else `readBody(limit)`, else none. */
async function bodyOf(request, limit) {
  const { body } = request;
  if (typeof body === 'string') return encoder.encode(body);
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (typeof request.readBody === 'function') {
    try {
      return (await request.readBody(limit)) ?? null;
    } catch {
      return null;
    }
  }
  return null;
}

function headerStrings(headers, names) {
  const out = [];
  const push = (name, value) => {
    if (Array.isArray(value)) for (const v of value) out.push(name, String(v));
    else if (value !== undefined) out.push(name, String(value));
  };
  if (headers === undefined) return out;
  if (typeof headers.entries === 'function' && typeof headers.get === 'function') {
    // A fetch Headers object (already joined with ", ").
    for (const [name, value] of headers.entries()) if (!names || names.includes(name)) push(name, value);
    return out;
  }
  for (const name of Object.keys(headers)) {
    const lower = name.toLowerCase();
    if (!names || names.includes(lower)) push(lower, headers[name]);
  }
  return out;
}

export class Verifier {
  #engine;
  #source;
  #clock;
  #log;
  #metric;
  #level;
  #inflight = null;
  #sequence = 0;

  /**
   * options: the settings (camelCase of the authorizer's variables, over the
   * environment); `client` (a SecretsManagerClient) or `source` ({listVersions,
   * getValue}); `clock` (milliseconds, default Date.now); `log` and `metric` (line
   * writers, default stdout; `metric: false` drops metrics); `logLevel` (default
   * LOG_LEVEL or AWS_LAMBDA_LOG_LEVEL, else info); `wasmPath`.
   */
  constructor(options = {}) {
    const env = options.env ?? process.env;
    const settings = resolveSettings(options, env);
    const timeout = Number(settings.SECRETS_MANAGER_TIMEOUT_MS ?? 2000);
    const secretId = settings.SECRET_ID ?? settings.SECRET_NAME;
    this.#source = options.source
      ?? new SecretsManagerSource({ client: options.client ?? defaultClient(timeout), secretId });
    this.#clock = options.clock ?? Date.now;
    this.#log = options.log ?? writeStdout;
    this.#metric = options.metric === false ? () => {} : (options.metric ?? writeStdout);
    const level = String(options.logLevel ?? env.LOG_LEVEL ?? env.AWS_LAMBDA_LOG_LEVEL ?? 'info').toLowerCase();
    this.#level = LEVELS[level] ?? LEVELS.info;
    this.#engine = new WasmEngine(options.wasmPath ?? env.EDGESEAL_VERIFIER_WASM ?? DEFAULT_WASM);
    const configured = this.#engine.configure({ ...settings, logAllows: this.#level <= LEVELS.debug });
    this.maxBodyBytes = configured.maxBodyBytes;
  }

  #emit(lines) {
    for (const line of lines) {
      if ((LEVELS[line.level.toLowerCase()] ?? LEVELS.error) >= this.#level) this.#log(line.text);
    }
  }

  /** Refresh the keys now (single flight: concurrent callers share one refresh). */
  refresh() {
    if (this.#inflight === null) {
      this.#inflight = this.#load().finally(() => { this.#inflight = null; });
    }
    return this.#inflight;
  }

  async #load() {
    try {
      const versions = await this.#source.listVersions();
      const needed = this.#engine.valuesNeeded(versions);
      const read = await Promise.all(needed.map((id) => this.#source.getValue(id)));
      const values = {};
      needed.forEach((id, i) => { values[id] = read[i]; });
      this.#emit(this.#engine.apply(this.#clock(), { versions, lastRotated: null, values }));
    } catch (err) {
      this.#emit(this.#engine.failed(this.#clock(), err.operation ?? 'SecretsManager', err.detail ?? String(err.name ?? err)));
    }
  }

  /**
   * The verdict on `request` ({method, host, path, query, headers, requestId}, and for
   * body binding `body` (Buffer, Uint8Array or string) or `readBody(limit)` resolving
   * to the body, or null past `limit`): resolves to {allowed, reason, keyid, stage,
   * age}. The body is read only when the signature covers Content-Digest; then the core
   * compares them (`body_digest_mismatch`), and a body longer than MAX_BODY_BYTES, or
   * none, is denied the same way. Never throws for a bad request: it denies.
   */
  async verify(request) {
    const due = this.#engine.refreshDue(this.#clock());
    if (due === 2) await this.refresh();
    else if (due === 1) this.refresh();
    const requestId = request.requestId ?? `edgeseal-${process.pid}-${++this.#sequence}`;
    const head = [request.method ?? '', request.host, request.path ?? '/', request.query ?? '', String(requestId)];
    let strings = head.concat(headerStrings(request.headers, SIGNATURE_HEADERS));
    let out = this.#engine.check(this.#clock(), strings, false);
    if (out.refresh) {
      this.#emit(out.logs);
      await this.refresh();
      out = this.#engine.check(this.#clock(), strings, true);
    }
    if (out.reason === 'component_unavailable') {
      // The signature covers more headers than the two fields: look again with all.
      strings = head.concat(headerStrings(request.headers, null));
      out = this.#engine.check(this.#clock(), strings, true);
    }
    if (out.readBody) {
      // A valid signature that binds the body: the verdict is the body's.
      const body = await bodyOf(request, this.maxBodyBytes);
      out = this.#engine.checkBody(this.#clock(), strings, body);
    }
    this.#emit(out.logs);
    this.#metric(out.metric);
    return { allowed: out.allowed, reason: out.reason, keyid: out.keyid, stage: out.stage, age: out.age };
  }
}

/** 401 when no signature was presented at all, else 403 (as API Gateway answers). */
export function denyStatus(outcome) {
  return outcome.reason === 'missing' ? 401 : 403;
}
