// One RTCPeerConnection per remote participant, negotiated with the W3C perfect-negotiation
// pattern as written in webrtc/samples: both sides offer whenever they need to; on a
// collision the polite side rolls back and the impolite side ignores the other's offer
// (makingOffer, ignoreOffer, isSettingRemoteAnswerPending). There is one ICE-restart
// path: restartIce(), whose renegotiation goes through the same pattern. The first offer
// of a connection is the impolite side's (see FIRST_OFFER_WAIT_MS).

const DISCONNECT_GRACE_MS = 4000;
// The one departure from the pattern: the first offer of a new connection comes from the
// impolite side. When the polite side's very first offer collides and is rolled back,
// Chromium sometimes gathers no candidate at all afterwards, not even after an ICE
// restart, and the call stays "new" for good; test_every_call_connects_between_two_
// browsers in tests/test_browser_join.py fails about one call in five without this. The
// impolite side always offers as soon as it meets a peer, so the polite one waits for
// that offer (and offers itself only if none comes). Later collisions (renegotiation, two
// ICE restarts at once) go through the pattern untouched.
const FIRST_OFFER_WAIT_MS = 3000;
// The sources every connection negotiates, in this order, and their kind: a source with no
// track still receives. Senders are kept by source, so a second video (a screen) is one more.
const SOURCES = [["microphone", "audio"], ["camera", "video"]];
// A shared screen is its own transceiver, added at the first share and kept (inactive
// between shares), sent as its own stream: the other side tells it from the camera by that
// stream's id (its msid), which this side announces on the data channel ("screen"). Text
// and slides need sharpness, not motion: a low frame rate.
const SCREEN_ENCODING = { maxFramerate: 15 };
const STREAM_ID_MAX = 100;

export class PeerSession extends EventTarget {
  // tracks: source name -> track (call-media.js), sent as parts of stream; a "screen" as
  // screenStream. Emits "media", "state", "data" (a data-channel message), "screen" (the
  // other side started or stopped sharing: remoteScreen holds its track).
  constructor({ peerId, polite, iceServers, iceTransportPolicy = "all", stream, screenStream, tracks, send }) {
    super();
    this.peerId = peerId;
    this.polite = polite;
    this.send = send;
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.isSettingRemoteAnswerPending = false;
    this.remoteStream = new MediaStream(); // the other side's camera and microphone
    this.remoteScreen = new MediaStream(); // and its shared screen
    this.screenStream = screenStream || new MediaStream();
    this.screenTransceiver = null;
    this.sharing = false;
    this.remote = { screenId: null, sharing: false, streams: new Map() }; // incoming track -> stream id
    this.pc = new RTCPeerConnection({ iceServers, iceTransportPolicy });
    this.senders = {};
    this.disconnectTimer = null;
    this.firstOfferTimer = polite
      ? setTimeout(() => { this.firstOfferTimer = null; this.makeOffer(); }, FIRST_OFFER_WAIT_MS)
      : null;
    for (const [source, kind] of SOURCES) {
      const track = tracks.get(source);
      // addTrack transceivers are reused by the answerer; a missing device still receives.
      if (track) this.senders[source] = this.pc.addTrack(track, stream);
      else this.pc.addTransceiver(kind, { direction: "recvonly" });
    }
    this.channel = this.pc.createDataChannel("visitroom", { negotiated: true, id: 0 });
    this.channel.addEventListener("message", (e) => this.onData(e.data));
    this.channel.addEventListener("open", () => this.announceScreen());
    if (tracks.get("screen")) this.setScreen(tracks.get("screen"));
    this.pc.addEventListener("track", (event) => {
      this.remote.streams.set(event.track, event.streams[0]?.id || "");
      this.place(event.track);
      event.track.addEventListener("unmute", () => this.emit("media"));
      this.emit("media");
    });
    this.pc.addEventListener("negotiationneeded", () => this.makeOffer());
    this.pc.addEventListener("icecandidate", ({ candidate }) => {
      this.send({ type: "candidate", to: this.peerId, candidate: candidate ? candidate.toJSON() : null });
    });
    this.pc.addEventListener("connectionstatechange", () => this.onConnectionState());
  }

  // The ICE servers with a renewed TURN credential (`ice`): whatever this connection
  // gathers from now on (an ICE restart) uses them; its allocations already made stay.
  setIceServers(iceServers) {
    try {
      this.pc.setConfiguration({ ...this.pc.getConfiguration(), iceServers });
    } catch (err) {
      console.warn("ICE servers not renewed:", err.name);
    }
  }

  async makeOffer() {
    if (this.firstOfferTimer) return; // polite, and the impolite side's first offer is due
    try {
      this.makingOffer = true;
      await this.pc.setLocalDescription();
      this.send({ type: this.pc.localDescription.type, to: this.peerId, sdp: this.pc.localDescription.sdp });
    } catch (err) {
      console.warn("offer failed", err);
    } finally {
      this.makingOffer = false;
    }
  }

  async onSignal(message) {
    const pc = this.pc;
    try {
      if (message.type === "offer" || message.type === "answer") {
        const description = { type: message.type, sdp: message.sdp };
        // An answer may be applied while our own earlier answer is still being set.
        const readyForOffer = !this.makingOffer &&
          (pc.signalingState === "stable" || this.isSettingRemoteAnswerPending);
        const offerCollision = description.type === "offer" && !readyForOffer;
        this.ignoreOffer = !this.polite && offerCollision;
        if (this.ignoreOffer) return;
        if (description.type === "offer" && this.firstOfferTimer) {
          clearTimeout(this.firstOfferTimer);
          this.firstOfferTimer = null;
        }
        this.isSettingRemoteAnswerPending = description.type === "answer";
        await pc.setRemoteDescription(description); // rolls back our offer when polite
        this.isSettingRemoteAnswerPending = false;
        if (description.type === "offer") {
          await pc.setLocalDescription();
          this.send({ type: "answer", to: this.peerId, sdp: pc.localDescription.sdp });
        }
      } else if (message.type === "candidate") {
        try {
          await pc.addIceCandidate(message.candidate || null);
        } catch (err) {
          if (!this.ignoreOffer) throw err;
        }
      } else if (message.type === "restart") {
        // A peer that cannot restart ICE itself (the Python participant) asks us to.
        this.restart();
      }
    } catch (err) {
      console.warn("negotiation error", err);
    }
  }

  onConnectionState() {
    const state = this.pc.connectionState;
    clearTimeout(this.disconnectTimer);
    if (state === "failed") {
      this.restart();
    } else if (state === "disconnected") {
      this.disconnectTimer = setTimeout(() => this.restart(), DISCONNECT_GRACE_MS);
    }
    this.emit("state", state);
  }

  // The one ICE-restart path: restartIce() fires negotiationneeded, and the new offer
  // goes through the pattern above (so both sides restarting at once is just glare).
  restart() {
    if (this.pc.connectionState === "closed") return;
    this.pc.restartIce();
  }

  // Send nothing for this source (mute, camera off) or a track again.
  async setOutgoing(source, track) {
    if (source === "screen") return this.setScreen(track);
    const sender = this.senders[source];
    if (sender) await sender.replaceTrack(track || null);
  }

  // Share a screen (a track) or stop (null). Announced before the offer it causes, so the
  // other side knows the stream when its track arrives.
  setScreen(track) {
    this.sharing = !!track;
    this.announceScreen();
    const transceiver = this.screenTransceiver;
    if (!transceiver) {
      if (!track) return;
      this.screenTransceiver = this.pc.addTransceiver(track, {
        direction: "sendonly", streams: [this.screenStream], sendEncodings: [SCREEN_ENCODING],
      });
      this.senders.screen = this.screenTransceiver.sender;
      return;
    }
    transceiver.sender.replaceTrack(track || null).catch(() => {});
    transceiver.direction = track ? "sendonly" : "inactive"; // renegotiates
  }

  announceScreen() {
    this.sendData({ type: "screen", stream: this.screenStream.id, sharing: this.sharing });
  }

  // An incoming track goes to the camera's stream or, if it is the announced screen, its own.
  place(track) {
    const screen = track.kind === "video" && this.remote.streams.get(track) === this.remote.screenId;
    const [into, out] = screen ? [this.remoteScreen, this.remoteStream] : [this.remoteStream, this.remoteScreen];
    out.removeTrack(track);
    if (!into.getTracks().includes(track)) into.addTrack(track);
  }

  // A message on the data channel: nothing if it is not open yet (the open sends the screen's state).
  sendData(message) {
    if (this.channel.readyState === "open") this.channel.send(JSON.stringify(message));
  }

  onData(data) {
    let message;
    try { message = JSON.parse(data); } catch { return; }
    if (!message || typeof message !== "object") return;
    if (message.type === "ping") this.channel.send(JSON.stringify({ type: "pong", t: message.t }));
    if (message.type === "screen" && typeof message.stream === "string" && message.stream && message.stream.length <= STREAM_ID_MAX) {
      this.remote.screenId = message.stream;
      this.remote.sharing = message.sharing === true;
      for (const track of this.remote.streams.keys()) this.place(track);
      this.emit("screen", this.remote.sharing);
    }
    this.emit("data", message);
  }

  close() {
    clearTimeout(this.disconnectTimer);
    clearTimeout(this.firstOfferTimer);
    this.pc.close();
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
