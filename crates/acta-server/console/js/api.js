// The HTTP API as the console uses it. The API key never reaches this code after sign-in: the browser holds
// an HttpOnly session cookie, and state-changing calls carry the session's CSRF token, kept in memory only.

let csrfToken = null;
let accountScope = null;
let signedOutHandler = () => {};

/** Remembers the CSRF token of the session (from `POST /v1/session` or `GET /v1/session`). */
export function setCsrf(token) {
  csrfToken = token || null;
}

/** The platform admin works in one account at a time (`account=` on every call); `null` for everyone else. */
export function setAccountScope(account) {
  accountScope = account || null;
}

export function accountScopeOf() {
  return accountScope;
}

/** Called when the server says the session has ended (401), so the app can show the sign-in form. */
export function onSignedOut(handler) {
  signedOutHandler = handler;
}

/** An error answer of the API, with what the page needs to show it plainly. */
export class ApiError extends Error {
  constructor(status, body, statusText = '') {
    const error = (body && body.error) || {};
    super(error.message || statusText || `HTTP ${status}`);
    this.status = status;
    this.statusText = statusText;
    this.code = error.code || 'http_error';
    this.column = Number.isInteger(error.column) ? error.column : null;
    this.details = Array.isArray(error.details) ? error.details : [];
  }

  /** `409 Conflict: the key "x" is locked; unlock it before you delete it`. */
  describe() {
    const status = this.status ? `${this.status}${this.statusText ? ` ${this.statusText}` : ''}: ` : '';
    return `${status}${this.message}`;
  }
}

/** A same-origin URL with query parameters (empty ones left out), scoped to the admin's account. */
export function apiUrl(path, params = {}) {
  const url = new URL(path, window.location.origin);
  const all = accountScope && !path.startsWith('/v1/session') && !path.startsWith('/v1/accounts')
    ? {...params, account: accountScope}
    : params;
  for (const [name, value] of Object.entries(all)) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(name, String(value));
  }
  return url.pathname + url.search;
}

/**
 * Calls the API; resolves to the JSON answer (null for 204), rejects with an ApiError.
 * `signal` aborts a call whose answer is no longer wanted (a newer search started).
 */
export async function api(method, path, {params, body, signal} = {}) {
  const headers = {Accept: 'application/json'};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (!['GET', 'HEAD'].includes(method) && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let response;
  try {
    response = await fetch(apiUrl(path, params), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
      signal,
    });
  } catch (error) {
    if (error && error.name === 'AbortError') throw error;
    throw new ApiError(0, {error: {code: 'network', message: `cannot reach the server (${error.message})`}});
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const error = new ApiError(response.status, data, response.statusText);
    if (response.status === 401 && path !== '/v1/session') signedOutHandler(error);
    throw error;
  }
  return data;
}
