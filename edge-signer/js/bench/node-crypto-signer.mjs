// The yardstick: the origin-request signer a user would write by hand in plain Node.js
// with node:crypto, following edgeseal's documented canonical forms (shared/src/canonical.rs)
// and signature profile. Not shipped; the benchmark times it beside the WASM handler, and
// the tests check that both produce identical headers.
//
// It handles requests that carry no viewer-sent signature fields (it drops them rather
// than parsing RFC 8941 dictionaries), which is what the benchmark and comparisons feed it.

import { createHmac } from 'node:crypto';

const HEX = '0123456789ABCDEF';
const isUnreserved = (b) =>
  (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) ||
  b === 0x2d || b === 0x2e || b === 0x5f || b === 0x7e;
// unreserved, sub-delims ! $ & ' ( ) * + , ; =, and : @ /
const PATH_EXTRA = new Set([...'!$&\'()*+,;=:@/'].map((c) => c.charCodeAt(0)));
const pathKeeps = (b) => isUnreserved(b) || PATH_EXTRA.has(b);

function hexValue(b) {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x61 && b <= 0x66) return b - 0x61 + 10;
  if (b >= 0x41 && b <= 0x46) return b - 0x41 + 10;
  return -1;
}

/** Percent-decode to a "byte string": one char per byte (so comparing is bytewise). */
function percentDecode(str, plusIsSpace = false) {
  const input = Buffer.from(plusIsSpace ? str.replaceAll('+', ' ') : str, 'utf8');
  let out = '';
  for (let i = 0; i < input.length; i++) {
    const b = input[i];
    if (b === 0x25 && i + 2 < input.length) {
      const hi = hexValue(input[i + 1]);
      const lo = hexValue(input[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += String.fromCharCode((hi << 4) | lo);
        i += 2;
        continue;
      }
    }
    out += String.fromCharCode(b);
  }
  return out;
}

function percentEncode(bytes, keep) {
  let s = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes.charCodeAt(i);
    s += keep(b) ? bytes[i] : '%' + HEX[b >> 4] + HEX[b & 15];
  }
  return s;
}

// Fast paths: most paths and query pieces need no decoding or encoding at all.
const PATH_LITERAL = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/;
const QUERY_LITERAL = /^[A-Za-z0-9\-._~]*$/;

export function canonicalPath(originPath, uri) {
  let joined = originPath.replace(/\/+$/, '');
  if (!uri.startsWith('/')) joined += '/';
  joined += uri;
  if (joined === '') return '/';
  return PATH_LITERAL.test(joined) ? joined : percentEncode(percentDecode(joined), pathKeeps);
}

// Query names and values are form-decoded: '+' is a space, %2B a plus.
const canonicalQueryPart = (s) => (QUERY_LITERAL.test(s) ? s : percentDecode(s, true));

export function canonicalQuery(raw) {
  const pairs = [];
  for (const piece of raw.replace(/^\?/, '').split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const name = eq < 0 ? piece : piece.slice(0, eq);
    const value = eq < 0 ? '' : piece.slice(eq + 1);
    pairs.push([canonicalQueryPart(name), canonicalQueryPart(value)]);
  }
  // By name only; Array.prototype.sort is stable, so repeated values keep their order.
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  let out = '?';
  for (let i = 0; i < pairs.length; i++) {
    const [n, v] = pairs[i];
    if (i > 0) out += '&';
    out += (QUERY_LITERAL.test(n) ? n : percentEncode(n, isUnreserved)) + '=' +
      (QUERY_LITERAL.test(v) ? v : percentEncode(v, isUnreserved));
  }
  return out;
}

export function canonicalAuthority(host) {
  let h = host.trim();
  if (h.endsWith(':443')) h = h.slice(0, -4);
  else if (h.endsWith(':80')) h = h.slice(0, -3);
  if (h === '' || !/^[A-Za-z0-9\-._:[\]]+$/.test(h)) return null;
  return h.toLowerCase();
}

/** A hand-written signer: config as in config.json, key already decoded. */
export function createCryptoSigner({ label, keyid, key, max_age_secs: maxAge }) {
  const keyBytes = Buffer.from(key, 'base64');
  const tail = `;keyid="${keyid}";alg="hmac-sha256";tag="edgeseal"`;
  const components = '("@method" "@authority" "@path" "@query")';
  return function sign(request, nowSecs) {
    const custom = request.origin?.custom;
    if (custom === undefined) return request;
    const headers = request.headers;
    const authority = canonicalAuthority(headers.host?.[0]?.value ?? custom.domainName);
    delete headers['signature-input'];
    delete headers['signature'];
    if (authority === null) return request;
    const params = `${components};created=${nowSecs}${maxAge > 0 ? `;expires=${nowSecs + maxAge}` : ''}${tail}`;
    const base =
      `"@method": ${request.method}\n` +
      `"@authority": ${authority}\n` +
      `"@path": ${canonicalPath(custom.path ?? '', request.uri)}\n` +
      `"@query": ${canonicalQuery(request.querystring ?? '')}\n` +
      `"@signature-params": ${params}`;
    const mac = createHmac('sha256', keyBytes).update(base).digest('base64');
    headers['signature-input'] = [{ key: 'Signature-Input', value: `${label}=${params}` }];
    headers['signature'] = [{ key: 'Signature', value: `${label}=:${mac}:` }];
    return request;
  };
}
