// Moonraker access for the PiNozCam panel: HTTP endpoints and the websocket JSON-RPC.
//
// The panel is served by the component at /server/pinozcam/panel; its files live under
// /server/pinozcam/panel/. Every URL is derived from this module's own URL, so the panel works
// behind a reverse proxy that mounts Moonraker under a sub-path (Mainsail's and Fluidd's nginx
// mount it at the root).
//
// Authentication, in the order tried (docs/panel.md):
//   1. `?token=JWT` or `#token=JWT` (a Moonraker access token), `#apikey=KEY` (an API key),
//      or a key saved in this browser through the panel's "API key" box (one per Moonraker
//      mount path: two printers behind one reverse proxy keep their own);
//   2. the Moonraker login of a front end on the same origin (Fluidd's, read from this
//      origin's storage: the panel inside Fluidd's iframe, or a tab next to it), re-read at
//      every (re)connect and after a 401 because the front end refreshes it; whether a token
//      has expired is judged by Moonraker's clock (its answers' Date header), not this
//      browser's, which may be hours off a printer without a real-time clock;
//   3. nothing: a Moonraker trusted client (the usual LAN setup, and Mainsail's own proxy).
// The websocket gets a oneshot token (GET /access/oneshot_token) when a credential is known.
// Credentials are never logged nor shown.

import { browserStorage } from "./dom.js";

// Before keys were kept per Moonraker: read once, as a fallback, so a saved key still works.
const LEGACY_KEY_NAME = "pinozcam-panel-apikey";

/** An error answer from Moonraker: HTTP status, message, and the option it names, if any. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
    const named = /option '([^']+)'/.exec(message || "");
    this.option = named ? named[1] : null;
  }
}

/** Where the API lives: {api: ".../server/pinozcam/", root: ".../", ws: "ws(s)://.../websocket"}. */
export function endpoints(moduleUrl = import.meta.url) {
  const api = new URL("../", moduleUrl);            // /server/pinozcam/panel/api.js -> /server/pinozcam/
  const root = new URL("../../", api);               // -> /
  const ws = new URL("websocket", root);
  ws.protocol = ws.protocol === "https:" ? "wss:" : "ws:";
  return { api: api.href, root: root.href, ws: ws.href };
}

/**
 * The name under which this browser keeps `name` for the Moonraker this panel belongs to: two
 * printers behind one address (a reverse proxy at /printer1/ and /printer2/) share one
 * localStorage, and each has its own API key and print.
 */
export function storageKey(name, urls = endpoints()) {
  return `${name}@${new URL(urls.root).pathname}`;
}

/**
 * Move what this browser kept under `name`, before entries were kept per Moonraker, to `key`
 * (unless `key` holds something already), and remove it: the old entry belongs to one
 * printer, and left in place would outlive the upgrade forever. (The API key is the
 * exception: readCredentials keeps its old entry for the other printers' panels.)
 */
export function takeOverLegacyEntry(name, storage = browserStorage(), key = storageKey(name)) {
  try {
    const legacy = storage.getItem(name);
    if (legacy === null) return;
    if (storage.getItem(key) === null) storage.setItem(key, legacy);
    storage.removeItem(name);
  } catch { /* storage disabled (private mode, a blocked third-party iframe) */ }
}

/**
 * Storage keys under which front ends on this origin keep their Moonraker access token:
 * Fluidd `user-token-<md5 of its API URL>` (src/store/auth/helpers.ts); Mainsail has no
 * Moonraker login in its releases, its proposed one uses `mainsail_moonraker_access_token`.
 */
const FRONTEND_TOKEN_KEYS = [/^user-token-[0-9a-f]{32}$/, /^mainsail_moonraker_access_token(_.*)?$/];

/** The payload of a JWT, or null when `token` is not one. */
export function jwtPayload(token) {
  const parts = String(token || "").split(".");
  if (parts.length !== 3) return null;
  try {
    const b64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const payload = JSON.parse(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4)));
    return payload && typeof payload === "object" ? payload : null;
  } catch {
    return null;
  }
}

/**
 * Unexpired Moonraker access tokens that front ends on this origin keep in `storages`
 * (localStorage, sessionStorage), freshest first. `now`: Unix seconds by Moonraker's clock,
 * which signed them (Moonraker.serverNow), not by this browser's: the two may be hours apart.
 */
export function frontendTokens(storages = [browserStorage("localStorage"), browserStorage("sessionStorage")], now = Date.now() / 1000) {
  const found = [];
  for (const storage of storages) {
    let keys;
    try { keys = Array.from({ length: storage.length }, (_, i) => storage.key(i)); } catch { continue; }
    for (const key of keys) {
      if (!key || !FRONTEND_TOKEN_KEYS.some((re) => re.test(key))) continue;
      let token;
      try { token = storage.getItem(key); } catch { continue; }
      const payload = jwtPayload(token);
      // A refresh token is no access token; an expired one would only earn a 401.
      if (!payload || payload.token_type === "refresh" || (typeof payload.exp === "number" && payload.exp <= now + 5)) continue;
      if (!found.some((f) => f.token === token)) found.push({ token, exp: payload.exp || 0 });
    }
  }
  return found.sort((a, b) => b.exp - a.exp).map((f) => f.token);
}

/**
 * Credentials from the page URL (query or fragment), this browser's saved key, or the login of
 * a front end on this origin: {token, apiKey, source: "url"|"saved"|"frontend"|"", more}
 * (`more`: further front-end tokens to try when this one is refused).
 */
export function readCredentials(location = window.location, storage = browserStorage(),
                                tokens = () => frontendTokens(), key = storageKey(LEGACY_KEY_NAME)) {
  const query = new URLSearchParams(location.search);
  const hash = new URLSearchParams((location.hash || "").replace(/^#/, ""));
  const token = query.get("token") || hash.get("token") || "";
  const apiKey = query.get("apikey") || hash.get("apikey") || "";
  if (token || apiKey) return { token, apiKey, source: "url", more: [] };
  const saved = savedApiKey(storage, key);
  if (saved) return { token: "", apiKey: saved, source: "saved", more: [] };
  const [first = "", ...more] = tokens();
  return { token: first, apiKey: "", source: first ? "frontend" : "", more };
}

/**
 * The key saved for this Moonraker (under `key`), or "". A key saved before keys were kept per
 * Moonraker is taken over once: copied to `key`, so this Moonraker keeps it even when another
 * one's panel is given its own. The old entry stays for the other printers' panels; a key
 * pasted there replaces it for that printer only.
 */
function savedApiKey(storage, key) {
  try {
    const own = storage.getItem(key);
    if (own !== null) return own;
    const legacy = storage.getItem(LEGACY_KEY_NAME) || "";
    if (legacy) storage.setItem(key, legacy);
    return legacy;
  } catch {
    return "";   // storage disabled (private mode, a blocked third-party iframe)
  }
}

/** Save (or with "" forget) the API key of this panel's Moonraker in this browser. */
export function saveApiKey(value, storage = browserStorage(), key = storageKey(LEGACY_KEY_NAME)) {
  try {
    // Forgotten as "" rather than removed: the key saved before keys were kept per Moonraker
    // must not come back.
    storage.setItem(key, value || "");
  } catch { /* storage disabled (private mode): the key lasts for this page only */ }
}

export class Moonraker {
  constructor({ credentials = null, urls = endpoints() } = {}) {
    this.urls = urls;
    // Moonraker's clock - this browser's, ms, from its answers' Date header; 0 (this browser's
    // own clock as the guess) until the first answer.
    this.serverOffset = 0;
    this.reread = credentials ? () => credentials
      : () => readCredentials(undefined, undefined, () => frontendTokens(undefined, this.serverNow()));
    this.credentials = this.reread();
    this.refused = new Set();        // front-end tokens Moonraker refused
    this.handlers = new Map();      // notification method -> [callback]
    this.onConnection = () => {};   // (state: "connecting"|"open"|"closed"|"auth", detail)
    this.onServerTime = () => {};   // (ms: Moonraker's clock as an answer said, receivedAt: ms of this browser)
    this.ws = null;
    this.nextId = 1;
    this.pending = new Map();
    this.retry = 1000;
    this.closed = false;
  }

  headers() {
    const h = {};
    if (this.credentials.apiKey) h["X-Api-Key"] = this.credentials.apiKey;
    else if (this.credentials.token) h["Authorization"] = `Bearer ${this.credentials.token}`;
    return h;
  }

  url(path, params) {
    const base = path.startsWith("/") ? this.urls.root : this.urls.api;
    const url = new URL(path.replace(/^\//, ""), base);
    for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== null) url.searchParams.set(k, v);
    return url.href;
  }

  /**
   * After a 401 with a front end's token: take the next unrefused one that front ends keep now
   * (one may have refreshed it meanwhile). False when none is left.
   */
  nextCredentials(refused) {
    if (refused) this.refused.add(refused);
    const fresh = this.reread();
    const pool = fresh.source === "frontend" ? [fresh.token, ...fresh.more] : [];
    const candidates = [...new Set([...pool, ...this.credentials.more])].filter((t) => t && !this.refused.has(t));
    if (!candidates.length) return false;
    this.credentials = { token: candidates[0], apiKey: "", source: "frontend", more: candidates.slice(1) };
    return true;
  }

  /** Moonraker's time now, Unix seconds (this browser's until Moonraker has answered once). */
  serverNow() {
    return (Date.now() + this.serverOffset) / 1000;
  }

  async request(method, path, options = {}) {
    const used = this.credentials;
    try {
      return await this.requestOnce(method, path, options);
    } catch (exc) {
      if (exc.status !== 401 || !["frontend", ""].includes(used.source)) throw exc;
      // Another request may have moved on already. Else try the next token: without one, a
      // front end's token that this browser's clock judged expired may be valid by
      // Moonraker's, learned from this very answer. With none left, no credential at all (a
      // trusted client needs none, and a token another Moonraker signed would only be refused).
      if (this.credentials === used && !this.nextCredentials(used.token || null)) {
        if (!used.token) throw exc;
        this.credentials = { token: "", apiKey: "", source: "", more: [] };
      }
      return this.request(method, path, options);
    }
  }

  async requestOnce(method, path, { params, body } = {}) {
    const init = { method, headers: this.headers(), cache: "no-store" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(this.url(path, params), init);
    } catch (exc) {
      throw new ApiError(0, `moonraker unreachable (${exc.message})`);
    }
    this.noteServerTime(response);
    if (!response.ok) {
      let message = response.statusText || `HTTP ${response.status}`;
      try {
        const data = await response.json();
        message = (data.error && data.error.message) || message;
      } catch { /* not JSON: keep the status text */ }
      throw new ApiError(response.status, message);
    }
    return response;
  }

  /**
   * Every answer carries the server's clock (the Date header, whole seconds), which may differ
   * from this browser's: a Pi without a real-time clock or internet access.
   */
  noteServerTime(response) {
    const date = Date.parse(response.headers.get("Date") || "");
    if (!Number.isFinite(date)) return;
    // The header is truncated to the second: its middle is the better guess.
    const receivedAt = Date.now();
    this.serverOffset = date + 500 - receivedAt;
    this.onServerTime(date + 500, receivedAt);
  }

  /** GET a JSON endpoint; `path` relative to /server/pinozcam/ unless it starts with "/". */
  async get(path, params) {
    return (await (await this.request("GET", path, { params })).json()).result;
  }

  async post(path, body = {}) {
    return (await (await this.request("POST", path, { body })).json()).result;
  }

  /**
   * Call a Moonraker method over the websocket when it is open (an expected error, such as a
   * rejected setting, then stays out of the browser console), else POST `path`.
   */
  async send(method, path, body = {}) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN && this.identified) return this.call(method, body);
    return this.post(path, body);
  }

  /** A picture as an object URL (the caller revokes it), fetched with the credentials. */
  async picture(path, params) {
    const blob = await (await this.request("GET", path, { params })).blob();
    return URL.createObjectURL(blob);
  }

  on(method, callback) {
    if (!this.handlers.has(method)) this.handlers.set(method, []);
    this.handlers.get(method).push(callback);
  }

  /** Open the websocket (reconnecting with backoff until close()). */
  async connect() {
    this.closed = false;
    this.onConnection("connecting");
    // A front end's token expires within the hour and the front end refreshes it: take the
    // freshest one it keeps now.
    if (this.credentials.source === "frontend") this.nextCredentials(null);
    let url = this.urls.ws;
    if (this.credentials.apiKey || this.credentials.token) {
      try {
        const oneshot = await this.get("/access/oneshot_token");
        url += `?token=${encodeURIComponent(oneshot)}`;
      } catch (exc) {
        this.onConnection(exc.status === 401 ? "auth" : "closed", exc.message);
        return this.scheduleReconnect();
      }
    }
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onopen = async () => {
      try {
        const identity = { client_name: "PiNozCam panel", version: "1.0", type: "web",
                           url: "https://github.com/pinozcam/pinozcam-klipper" };
        await this.call("server.connection.identify", identity);
      } catch (exc) {
        // Only Moonraker refusing us means a login is needed; a socket that dropped during the
        // handshake (Moonraker restarting, a flaky Wi-Fi) is retried like any other drop.
        if (exc.status === 401 || exc.status === 403) this.onConnection("auth", exc.message);
        else if (ws.readyState === WebSocket.OPEN) ws.close();   // onclose reconnects
        return;
      }
      // Reset only now: a handshake that keeps failing backs off like a refused connection.
      this.retry = 1000;
      this.identified = true;
      this.onConnection("open");
    };
    ws.onmessage = (event) => this.dispatch(event.data);
    ws.onclose = () => {
      for (const { reject } of this.pending.values()) reject(new ApiError(0, "websocket closed"));
      this.pending.clear();
      if (this.ws === ws) { this.ws = null; this.identified = false; }
      if (!this.closed) {
        this.onConnection("closed");
        this.scheduleReconnect();
      }
    };
    ws.onerror = () => { /* onclose follows and reconnects */ };
  }

  scheduleReconnect() {
    if (this.closed) return;
    const wait = this.retry;
    this.retry = Math.min(this.retry * 2, 15000);
    setTimeout(() => { if (!this.closed && !this.ws) this.connect(); }, wait);
  }

  close() {
    this.closed = true;
    if (this.ws) this.ws.close();
  }

  call(method, params) {
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        reject(new ApiError(0, "websocket not open"));
        return;
      }
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ jsonrpc: "2.0", method, params, id }));
    });
  }

  dispatch(raw) {
    let message;
    try { message = JSON.parse(raw); } catch { return; }
    if (message.id !== undefined && this.pending.has(message.id)) {
      const { resolve, reject } = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.error) reject(new ApiError(message.error.code || 0, message.error.message));
      else resolve(message.result);
      return;
    }
    const callbacks = this.handlers.get(message.method);
    if (!callbacks) return;
    const param = Array.isArray(message.params) ? message.params[0] : message.params;
    for (const callback of callbacks) {
      try { callback(param); } catch (exc) { console.error("pinozcam panel:", exc); }
    }
  }
}
