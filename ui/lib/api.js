// One way to call the management API, so every page reports a failure the same way: the
// server's own message (its `error.message`, field path included for a refused config), the
// HTTP status, and a login prompt when the session has expired.

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

let onUnauthorized = () => {};

/** Called with the failing path when an answer is 401 (the app shows the login page). */
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

function messageOf(status, body, text) {
  const e = body && body.error;
  if (e) {
    const issues = Array.isArray(e.issues) && e.issues.length
      ? ': ' + e.issues.map((i) => `${i.path}: ${i.message}`).join('; ')
      : '';
    const msg = typeof e === 'string' ? e : e.message || e.type || JSON.stringify(e);
    return `${msg}${issues} (HTTP ${status})`;
  }
  if (body && body.message) return `${body.message} (HTTP ${status})`;
  return `${text || 'request failed'} (HTTP ${status})`;
}

/** Call `method path` with an optional JSON body; resolves to the parsed answer. */
export async function api(path, {method = 'GET', body, quiet401 = false} = {}) {
  const init = {method, credentials: 'same-origin', headers: {accept: 'application/json'}};
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, `the gateway did not answer: ${e.message}`);
  }
  const text = await res.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!res.ok) {
    if (res.status === 401 && !quiet401) onUnauthorized(path);
    throw new ApiError(res.status, messageOf(res.status, parsed, text), parsed);
  }
  return parsed;
}

/** Query string from an object, leaving out empty values. */
export function qs(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}
