// The admin API client: bearer token from session storage, JSON in and out.
// The token lives in this tab's sessionStorage only: never a cookie (so no
// CSRF), never localStorage (so closing the tab forgets it).
const KEY = 'embedgate.adminToken';

export const session = {
  get token() { return sessionStorage.getItem(KEY); },
  set token(t) { if (t) sessionStorage.setItem(KEY, t); else sessionStorage.removeItem(KEY); },
  role: null,
  name: null,
};

// Fired (`unauthorized`) when the API refuses the token: it was revoked,
// or the store no longer knows it.
export const events = new EventTarget();

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.error || 'http_error';
    this.field = body?.field;
  }
}

export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'omit',
    cache: 'no-store',
  });
  const role = res.headers.get('Embedgate-Role');
  if (role) {
    session.role = role;
    session.name = res.headers.get('Embedgate-Token-Name');
  }
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const err = new ApiError(res.status, data);
    if (res.status === 401) events.dispatchEvent(new CustomEvent('unauthorized', { detail: err }));
    throw err;
  }
  return data;
}

// What the running API accepts in a PATCH body, read from its OpenAPI
// document (served without a token): the console offers a field only when
// the API documents it, so it keeps working against older and newer
// proxies alike.
export function patchFields(doc, path) {
  const op = doc?.paths?.[path]?.patch;
  let schema = op?.requestBody?.content?.['application/json']?.schema;
  const ref = schema?.$ref;
  if (typeof ref === 'string' && ref.startsWith('#/components/schemas/')) {
    schema = doc?.components?.schemas?.[ref.slice('#/components/schemas/'.length)];
  }
  return new Set(Object.keys(schema?.properties ?? {}));
}

export async function openApi() {
  try {
    const res = await fetch('/api/v1/openapi.json', { credentials: 'omit', cache: 'no-store' });
    return res.ok ? await res.json() : null;
  } catch {
    return null;
  }
}

export const enc = encodeURIComponent;
