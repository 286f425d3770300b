// What the page does with each message from the server (docs/protocol.md): one small
// handler per type, keyed by type. A type not in the table is ignored.
import { t } from "./i18n.js";

export function messageHandlers(call, { demo }) {
  const { state } = call;
  const admit = (peers) => {
    state.admitted = true;
    state.emit("admitted");
    for (const peer of peers) call.addPeer(peer);
    call.refresh();
  };
  const relay = (m) => state.peers.get(m.from)?.session.onSignal(m);
  return {
    welcome(m) {
      state.iceServers = m.ice_servers || [];
      state.iceTransportPolicy = m.ice_transport_policy === "relay" ? "relay" : "all";
      call.signaling.keepAlive(m.heartbeat_s);
      state.clearPeers();
      state.emit("chat-history", []); // what she may read follows, if there is any
      if (m.status === "admitted") admit(m.peers);
      else state.setStatus("waiting");
    },
    waiting: () => state.setStatus("waiting"),
    admitted(m) {
      if (m.ice_servers) state.iceServers = m.ice_servers; // the TURN server comes with admission
      admit(m.peers);
    },
    // A renewed TURN credential, every half lifetime while admitted: peer connections made
    // from now on take it, open ones use it from their next ICE restart.
    ice(m) {
      state.iceServers = m.ice_servers || [];
      for (const { session } of state.peers.values()) session.setIceServers(state.iceServers);
    },
    lobby: (m) => state.emit("lobby", m.waiting),
    presence: (m) => state.emit("presence", m),
    "peer-joined"(m) {
      call.addPeer(m.peer);
      call.refresh();
    },
    "peer-left"(m) {
      state.removePeer(m.peer);
      state.emit("announce", t("{name} left the call. They can come back.", { name: state.otherName }));
      call.refresh();
    },
    offer: relay,
    answer: relay,
    candidate: relay,
    restart: relay,
    "demo-show"(m) {
      demo.show(m.exercise);
      state.emit("announce", t("Your therapist is showing you an exercise."));
    },
    "demo-control": (m) => demo.control(m),
    chat: (m) => state.emit("chat", m),
    "chat-history": (m) => state.emit("chat-history", m.messages || []),
    denied: () => call.finish("denied"),
    "opened-elsewhere": () => state.emit("notice", { id: "call-notice", text: t("Your visit link was just opened on another device. It waits until your therapist lets it in. If that was not you, tell your therapist.") }),
    removed() {
      state.clearPeers();
      state.admitted = false;
      state.emit("notice", { id: "waiting-notice", text: t("Your therapist moved you to the waiting room. They can let you back in.") });
    },
    "visit-ended": (m) => call.finish("ended", m.reason),
    "took-over"(m) {
      if (m.was_connected) state.emit("notice", { id: "call-notice", text: t("This call was open on another device where you are signed in. It continues here, and that device was closed.") });
    },
    bye(m) {
      if (m.reason === "replaced") call.finish("ended", m.other_device ? "moved" : "replaced");
    },
    // The page says what a refusal means in its own words, by the error's code (the
    // server's English message is for logs); codes it does not show are only logged.
    error(m) {
      console.warn("signaling:", m.code, m.message);
      state.emit("refused", m);
      if (m.code === "room_full") state.emit("announce", t("The visit is full: nobody else can be let in."));
    },
  };
}
