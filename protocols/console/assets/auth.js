// Sign-in: the browser keeps a short-lived SAS token, never the key. With a policy name and
// key, the token is signed here with WebCrypto (HMAC-SHA256 over the URL-encoded resource, a
// newline and the expiry, as the Event Hubs SDKs sign), for the whole gateway
// (`sr` = this origin), valid for TOKEN_SECS; the key is dropped once the token exists. A
// pasted SAS token is kept as given. The token lives in sessionStorage (this tab only) and is
// sent as `Authorization: SharedAccessSignature …`; no cookie is ever set.

const KEY = 'hubgate.console.token';
export const TOKEN_SECS = 3600;

/** Python's quote_plus: what the SDKs apply to `sr`, `sig` and `skn`. */
export function quotePlus(text) {
  return encodeURIComponent(text)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/** Signs a token for `resource` with policy `name` and its `key`, expiring in `secs`. */
export async function signToken(name, key, resource, secs) {
  if (!globalThis.crypto || !crypto.subtle) {
    throw new Error('this page is not a secure context (HTTPS or localhost), so it cannot sign; paste a SAS token instead');
  }
  const enc = new TextEncoder();
  const hmac = await crypto.subtle.importKey('raw', enc.encode(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const se = Math.floor(Date.now() / 1000) + secs;
  const sr = quotePlus(resource);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', hmac, enc.encode(`${sr}\n${se}`)));
  const sig = btoa(String.fromCharCode(...mac));
  return { token: `SharedAccessSignature sr=${sr}&sig=${quotePlus(sig)}&se=${se}&skn=${quotePlus(name)}`, expires: se, policy: name };
}

/** The expiry and policy name a token carries. */
export function describeToken(token) {
  const fields = new URLSearchParams(token.replace(/^SharedAccessSignature\s+/, ''));
  return { expires: Number(fields.get('se')) || 0, policy: fields.get('skn') || '?' };
}

export function save(credential) {
  sessionStorage.setItem(KEY, JSON.stringify(credential));
}

/** The token kept for this tab, or null when none or expired. */
export function current() {
  try {
    const credential = JSON.parse(sessionStorage.getItem(KEY) || 'null');
    if (credential && credential.expires > Date.now() / 1000 + 5) return credential;
  } catch (_) { /* a damaged entry is no token */ }
  return null;
}

export function signOut() {
  sessionStorage.removeItem(KEY);
}
