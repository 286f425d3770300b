// The visit WebSocket: JSON messages in and out, reconnection with backoff, keep-alive.
// Emits "message" (detail: the message) and "status" (detail: "open" | "reconnecting" | "closed").

const FINAL_CODES = new Set([1008, 4000, 4001, 4003, 4004]);

export class SignalingClient extends EventTarget {
  constructor(url) {
    super();
    this.url = url;
    this.ws = null;
    this.attempt = 0;
    this.stopped = false;
    this.closeCode = null;
    this.pingTimer = null;
  }

  connect() {
    this.stopped = false;
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) return;
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.attempt = 0;
      this.emit("status", "open");
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.send({ type: "ping", t: Date.now() }), 15000);
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
      const delay = Math.min(10000, 500 * 2 ** this.attempt) * (0.8 + Math.random() * 0.4);
      this.attempt += 1;
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
