// The visit WebSocket: JSON messages in and out, reconnection with backoff, keep-alive.
// Emits "message" (detail: the message) and "status" (detail: "open" | "reconnecting" | "closed").

// Closes after which the page must not reconnect by itself (signaling/closes.py FINAL;
// tests/test_structure.py checks that the two lists agree).
const FINAL_CODES = new Set([1008, 4000, 4001, 4003, 4004]);
// The server is stopping or handing the room to another process (signaling/closes.py
// CLOSE_RECONNECT): reconnect at once (a little jitter spreads a whole process's sockets)
// and land on another process, which seats the page again.
const RECONNECT_NOW = 1012;
const DEFAULT_KEEPALIVE_MS = 15000;

export class SignalingClient extends EventTarget {
  constructor(url) {
    super();
    this.url = url;
    this.ws = null;
    this.attempt = 0;
    this.stopped = false;
    this.closeCode = null;
    this.pingTimer = null;
    this.keepAliveMs = DEFAULT_KEEPALIVE_MS;
  }

  // Ping as often as the server's heartbeat (welcome.heartbeat_s) asks, a little sooner.
  keepAlive(heartbeatSeconds) {
    if (!(heartbeatSeconds > 0)) return;
    this.keepAliveMs = Math.max(1000, heartbeatSeconds * 750);
    this.startPinging();
  }

  startPinging() {
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => this.send({ type: "ping", t: Date.now() }), this.keepAliveMs);
  }

  connect() {
    this.stopped = false;
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) return;
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.attempt = 0;
      this.emit("status", "open");
      this.startPinging();
    });
    ws.addEventListener("message", (event) => {
      // Only the current socket speaks for the page: a late "bye replaced" on the socket
      // this page itself replaced (a reconnect) must not end the visit.
      if (ws !== this.ws) return;
      let message;
      try { message = JSON.parse(event.data); } catch { return; }
      this.emit("message", message);
    });
    ws.addEventListener("close", (event) => {
      clearInterval(this.pingTimer);
      if (ws !== this.ws) return;
      this.closeCode = event.code;
      if (this.stopped || FINAL_CODES.has(event.code)) {
        this.emit("status", "closed");
        return;
      }
      this.emit("status", "reconnecting");
      let delay = 50 + Math.random() * 200;
      if (event.code !== RECONNECT_NOW) {
        delay = Math.min(10000, 500 * 2 ** this.attempt) * (0.8 + Math.random() * 0.4);
        this.attempt += 1;
      }
      setTimeout(() => { if (!this.stopped) this.connect(); }, delay);
    });
  }

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  // Drop the socket as a network failure would (the client reconnects by itself).
  drop() {
    if (this.ws) this.ws.close(4999, "dropped");
  }

  close() {
    this.stopped = true;
    clearInterval(this.pingTimer);
    if (this.ws) {
      this.send({ type: "bye" });
      this.ws.close(1000);
    }
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
