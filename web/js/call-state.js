// The call's state: who this page is, the other participants, where the call stands. It
// holds and tells; views listen: "status" {state, panel (left, ended, denied), reason},
// "admitted", "peer-added" {id, name, session}, "peer-removed" {id}, "roster" (peer
// count, while connected), "lobby" (who waits), "notice" {id, text}, "announce" (text),
// "stopped" (the call was left or ended), "chat" (a message), "chat-history" (what this
// page may read, after a (re)join, admission or removal), "refused" (an `error` message),
// "presence" (where the therapist is and her late note, while waiting).

export class CallState extends EventTarget {
  constructor({ visitId, role, otherName }) {
    super();
    this.visitId = visitId;
    this.role = role;
    this.otherName = otherName;
    this.status = "prejoin";
    this.admitted = false;
    this.peers = new Map(); // participant id -> {name, role, session, monitor}
    this.iceServers = [];
    this.iceTransportPolicy = "all";
  }

  setStatus(state, closing) {
    this.status = state;
    this.emit("status", { state, ...closing });
  }

  addPeer(id, peer) {
    this.peers.set(id, peer);
    this.emit("peer-added", { id, ...peer });
  }

  // A peer that goes takes its connection with it.
  removePeer(id) {
    const peer = this.peers.get(id);
    if (!peer) return;
    peer.session.close();
    this.peers.delete(id);
    this.emit("peer-removed", { id });
  }

  clearPeers() {
    for (const id of [...this.peers.keys()]) this.removePeer(id);
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
