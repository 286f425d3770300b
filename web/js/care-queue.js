// Sessions logged on this phone that the clinic has not stored yet. Each is kept in
// localStorage under its client_key before it is sent, so a closed page or a lost answer
// loses nothing, and a resend is stored once (the server answers 200 for a key it has).
// An entry leaves the queue only after a 200/201 (stored) or a 400/422 (refused: sending
// it again cannot help); a network error, 5xx, 429 or a refused link keeps it.

const KEEP_STATUSES = new Set([401, 403, 408, 429]);
const SEND_TIMEOUT_MS = 15000;

/** A fresh idempotency key: 16 random bytes as base64url (22 characters). */
export function newClientKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The queue of one plan's unsent sessions; emits `change` when entries come or go. */
export class SessionQueue extends EventTarget {
  constructor(planId) {
    super();
    this.planId = planId;
    this.storageKey = `visitroom.care.${planId}.queue`;
    this.memory = {}; // used when localStorage is refused (a private window, a full disk)
    this.running = null;
    window.addEventListener("storage", (event) => {
      if (event.key === this.storageKey) this.dispatchEvent(new Event("change"));
    });
  }

  read() {
    try {
      const stored = JSON.parse(localStorage.getItem(this.storageKey) || "{}");
      return stored && typeof stored === "object" ? stored : {};
    } catch {
      return { ...this.memory };
    }
  }

  write(all) {
    this.memory = all;
    try {
      localStorage.setItem(this.storageKey, JSON.stringify(all));
    } catch {
      // The in-memory copy still sends it while the page is open.
    }
    this.dispatchEvent(new Event("change"));
  }

  /** The waiting sessions, oldest first. */
  entries() {
    return Object.values(this.read()).sort((a, b) => a.done_at - b.done_at);
  }

  /** Keep a session (its body as the server takes it) until the clinic has it. */
  add(body) {
    this.write({ ...this.read(), [body.client_key]: body });
  }

  remove(key) {
    const all = this.read();
    delete all[key];
    this.write(all);
  }

  /**
   * Send every waiting session, one at a time; resolves to a Map client_key → outcome:
   * {state: "sent", result} | {state: "refused", status} | {state: "kept", reason}.
   * A second call while one runs waits for it and then runs again.
   */
  flush() {
    const next = (this.running || Promise.resolve()).catch(() => {}).then(() => this.sendAll());
    this.running = next;
    next.finally(() => { if (this.running === next) this.running = null; }).catch(() => {});
    return next;
  }

  async sendAll() {
    const outcomes = new Map();
    for (const body of this.entries()) {
      const outcome = await this.send(body);
      outcomes.set(body.client_key, { ...outcome, body });
      if (outcome.state === "kept") break; // the next one would fare no better now
      this.remove(body.client_key);
    }
    return outcomes;
  }

  async send(body) {
    // Tried even when navigator.onLine is false: it says false on a phone whose only link
    // is a captive or loopback network that reaches the clinic, and an offline fetch fails fast.
    let response;
    try {
      response = await fetch(`/care/${encodeURIComponent(this.planId)}/log`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body),
        credentials: "same-origin",
        signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
      });
    } catch {
      return { state: "kept", reason: "offline" };
    }
    if (response.status === 200 || response.status === 201) {
      const result = await response.json().catch(() => ({}));
      return { state: "sent", result };
    }
    if (response.status === 400 || response.status === 422) return { state: "refused", status: response.status };
    if (response.status === 401 || response.status === 403) return { state: "kept", reason: "link" };
    return { state: "kept", reason: KEEP_STATUSES.has(response.status) ? "busy" : "server" };
  }
}
