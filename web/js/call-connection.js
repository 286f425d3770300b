// The page's link to the visit: the signaling socket (join, leave, end) and a PeerSession
// per other participant, kept in the call state; messages go to call-messages.js.
import { PeerSession } from "./negotiation.js";
import { QualityMonitor } from "./quality.js";
import { SignalingClient } from "./signaling.js";

export class CallConnection {
  constructor({ state, media, handlers }) {
    this.state = state;
    this.media = media;
    this.signaling = null;
    this.joining = null;
    this.ready = null; // what the socket waits for: the devices' first start, the views
    this.rejoinKey = `visitroom:in-call:${state.visitId}`;
    this.trace = []; // for diagnostics: the last message types, and counts sent by peers
    this.sent = {};
    this.handlers = new Map(Object.entries(handlers(this))); // message type -> handler
    // A source switched off or replaced (mute, camera off, the other camera) is sent so.
    media.addEventListener("change", ({ detail: source }) => {
      if (!source) return;
      for (const { session } of state.peers.values()) session.setOutgoing(source, media.sending(source));
    });
  }

  get open() { return !!this.signaling && !this.signaling.stopped; }

  // Join may be pressed at any moment: before the camera has started, while the browser's
  // permission prompt is open, twice in a row. The page holds at most one signaling client,
  // and its socket opens once the devices have settled (so peers carry the tracks).
  join() {
    if (this.open) return this.joining;
    this.joining ??= (async () => {
      sessionStorage.setItem(this.rejoinKey, "1");
      this.state.admitted = false;
      this.state.setStatus("connecting");
      await this.ready;
      this.connect();
    })().finally(() => { this.joining = null; });
    return this.joining;
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    this.signaling = new SignalingClient(`${scheme}//${location.host}/visits/${this.state.visitId}/ws`);
    this.signaling.addEventListener("message", (e) => this.receive(e.detail));
    this.signaling.addEventListener("status", (e) => {
      if (e.detail === "reconnecting") this.state.setStatus("reconnecting");
    });
    this.signaling.connect();
  }

  receive(message) {
    this.note("in", message.type);
    this.handlers.get(message.type)?.(message);
  }

  send(message) { this.signaling?.send(message); }

  note(direction, type) {
    this.trace.push(`${Math.round(performance.now())} ${direction} ${type}`);
    if (this.trace.length > 60) this.trace.shift();
    if (direction === "out") this.sent[type] = (this.sent[type] || 0) + 1;
  }

  addPeer({ id, name, role, polite }) {
    const { state, media } = this;
    state.removePeer(id);
    const session = new PeerSession({
      peerId: id, polite, iceServers: state.iceServers, iceTransportPolicy: state.iceTransportPolicy,
      stream: media.stream, screenStream: media.screenStream, tracks: media.sources, send: (msg) => { this.note("out", msg.type); this.signaling.send(msg); },
    });
    session.addEventListener("state", () => this.refresh());
    state.addPeer(id, { name, role, session, monitor: new QualityMonitor(session.pc) });
    for (const source of media.off) session.setOutgoing(source, null);
  }

  // Where the call stands, from the socket and the peer connections.
  refresh() {
    const { state } = this;
    if (!this.open) return;
    state.emit("roster", state.peers.size);
    if (!state.admitted) return;
    const states = [...state.peers.values()].map((p) => p.session.pc.connectionState);
    let status = "waiting";
    if (this.signaling.ws?.readyState !== WebSocket.OPEN) status = "reconnecting";
    else if (states.includes("connected")) status = "connected";
    else if (states.some((s) => s === "disconnected" || s === "failed")) status = "reconnecting";
    else if (states.length) status = "connecting";
    state.setStatus(status);
  }

  stop() {
    this.state.clearPeers();
    this.state.emit("stopped");
    this.signaling?.close();
  }

  leave() {
    this.stop();
    sessionStorage.removeItem(this.rejoinKey);
    this.state.setStatus("prejoin", { panel: "left" });
  }

  // The visit ended, this page was denied, or the call went on elsewhere: nothing comes back.
  finish(kind, reason) {
    this.stop();
    sessionStorage.removeItem(this.rejoinKey);
    this.media.stop();
    this.state.setStatus("ended", { panel: kind, reason });
  }
}
