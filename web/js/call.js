// The visit page: device check, waiting room, call, leaving and ending. It wires the
// modules together; each concern lives in its own module.
import { CallDemo } from "./call-demo.js";
import { LibraryPanel } from "./call-library.js";
import { runningLoops } from "./demo.js";
import { connectionCheck } from "./echo-check.js";
import { LocalMedia } from "./devices.js";
import { PeerSession } from "./negotiation.js";
import { QualityMonitor } from "./quality.js";
import { SignalingClient } from "./signaling.js";

const $ = (id) => document.getElementById(id);
const root = $("call-root");
const visitId = root.dataset.visitId;
const role = root.dataset.role;
const otherName = root.dataset.otherName;
const rejoinKey = `visitroom:in-call:${visitId}`;
const media = new LocalMedia();
const peers = new Map();
let signaling = null;
let iceServers = [];
let iceTransportPolicy = "all";
let admitted = false;
let muted = false;
let cameraOff = false;
let connectedSince = null;
let elapsedTimer = null;
let qualityTimer = null;
let poorSamples = 0;
let waitingIds = new Set();

const STATE_TEXT = {
  prejoin: "Getting ready", waiting: role === "therapist" ? "Waiting for your patient" : "In the waiting room",
  connecting: "Connecting…", connected: "Connected", reconnecting: "Reconnecting…", ended: "Visit ended",
};
const PANELS = ["prejoin", "waiting", "stage", "lobby", "library", "controls", "left", "ended", "denied"];
const demo = new CallDemo({ role, area: $("demo-area"), send: (msg) => signaling?.send(msg) });
const library = $("library") ? new LibraryPanel({
  root: $("library"), visitId, onShow: async (slug) => {
    if (await demo.show(slug)) signaling?.send({ type: "demo-show", exercise: slug });
  },
}) : null;

function announce(text) {
  const el = $("announcer");
  el.textContent = "";
  setTimeout(() => { el.textContent = text; }, 50);
}

// Show these panels and hide the rest; data-view names the layout the stylesheet applies
// (the call's layout whenever the video stage is up, else the one panel shown).
function show(...visible) {
  for (const id of PANELS) if ($(id)) $(id).hidden = !visible.includes(id);
  root.dataset.view = visible.includes("stage") ? "call" : visible[0] || "none";
}

function setState(state, { panel } = {}) {
  const chip = $("call-state");
  // An admitted patient alone in the call (her therapist's socket is moving) is not in
  // the waiting room: she waits in the call.
  const text = state === "waiting" && admitted && role !== "therapist" ? "Waiting for your therapist" : STATE_TEXT[state];
  if (chip.dataset.state !== state || chip.textContent !== text) announce(text);
  chip.dataset.state = state;
  chip.textContent = text;
  root.dataset.state = panel || state;
  if (panel) return;
  const inCall = role === "therapist" ? ["stage", "lobby", "library", "controls"] : ["stage", "controls"];
  if (state === "prejoin") show("prejoin");
  else if (state === "waiting" && !admitted) show("waiting");
  else if (state !== "ended") show(...inCall);
}

// -- local media and the device check ------------------------------------------------------

function showLocal() {
  const video = $("local-video");
  video.srcObject = media.stream;
  const hasVideo = !!media.track("video") && !cameraOff;
  video.hidden = !hasVideo;
  $("no-camera").hidden = hasVideo;
  video.classList.toggle("mirrored", media.facing === "user");
}

async function startMedia(options = {}) {
  await media.start(options);
  showLocal();
  media.meter($("mic-level"));
  const cams = await media.fillPickers({ camera: $("pick-camera"), microphone: $("pick-microphone"), speaker: $("pick-speaker") });
  $("switch-camera").hidden = cams < 2;
  const problem = media.problem();
  // Opened over plain http from another device, the page is no secure context and the
  // browser offers no camera at all: no permission step helps, only an https link.
  const insecure = !!problem && !window.isSecureContext;
  $("insecure-help").hidden = !insecure;
  const help = $("permission-help");
  help.hidden = !problem || insecure;
  const join = $("join-button");
  if (!problem) {
    join.textContent = "Join visit";
  } else {
    const audioOnly = !!media.track("audio");
    $("permission-title").textContent = problem === "denied"
      ? "Your camera or microphone is blocked"
      : problem === "missing" ? "No camera or microphone found" : "Your camera or microphone is in use";
    $("permission-text").textContent = (audioOnly ? "Your microphone works, but the camera does not. " : "")
      + (problem === "denied"
        ? "Allow the camera and microphone for this page (steps below), then press “Try again”. You can also join without them."
        : "Check that they are connected and not used by another app, then press “Try again”. You can also join without them.");
    join.textContent = audioOnly ? "Join with audio only" : "Join without camera or microphone";
  }
}

function wirePrejoin() {
  $("retry-media").addEventListener("click", () => startMedia());
  for (const id of ["pick-camera", "pick-microphone"]) {
    $(id).addEventListener("change", () => startMedia({ videoId: $("pick-camera").value || undefined, audioId: $("pick-microphone").value || undefined }));
  }
  $("pick-speaker").addEventListener("change", () => {
    for (const video of document.querySelectorAll("#remotes video")) setSink(video);
  });
  $("speaker-test").addEventListener("click", async () => {
    await media.chime($("pick-speaker").value);
    $("speaker-question").hidden = false;
    $("speaker-advice").hidden = true;
  });
  $("speaker-yes").addEventListener("click", () => { $("speaker-question").hidden = true; announce("Speaker works."); });
  $("speaker-no").addEventListener("click", () => { $("speaker-question").hidden = true; $("speaker-advice").hidden = false; });
  $("check-connection").addEventListener("click", async () => {
    const out = $("check-result");
    out.textContent = "Checking your connection…";
    $("check-connection").disabled = true;
    const result = await connectionCheck(visitId, media.stream);
    $("check-connection").disabled = false;
    out.dataset.grade = result.grade;
    out.textContent = result.error ? result.error
      : `Connection: ${result.grade} (round trip ${result.rttMs != null ? Math.round(result.rttMs) + " ms" : "unknown"}, loss ${result.lossPct != null ? result.lossPct.toFixed(1) + "%" : "unknown"}).`;
  });
  $("join-button").addEventListener("click", join);
  $("rejoin-button").addEventListener("click", join);
}

// -- joining and signaling -----------------------------------------------------------------

// Join may be pressed at any moment: before the camera has started, while the browser's
// permission prompt is open, twice in a row. The page holds at most one signaling client,
// and its socket opens once the devices have settled (so peers carry the tracks).
let joining = null;
function join() {
  if (signaling && !signaling.stopped) return joining;
  joining ??= (async () => {
    sessionStorage.setItem(rejoinKey, "1");
    admitted = false;
    setState("connecting");
    await mediaReady;
    openSignaling();
  })().finally(() => { joining = null; });
  return joining;
}

function openSignaling() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  signaling = new SignalingClient(`${scheme}//${location.host}/visits/${visitId}/ws`);
  signaling.addEventListener("message", (e) => onMessage(e.detail));
  signaling.addEventListener("status", (e) => {
    if (e.detail === "reconnecting") setState("reconnecting");
  });
  signaling.connect();
}

const trace = [];
const sent = {};
function note(direction, type) {
  trace.push(`${Math.round(performance.now())} ${direction} ${type}`);
  if (trace.length > 60) trace.shift();
  if (direction === "out") sent[type] = (sent[type] || 0) + 1;
}

function onMessage(m) {
  note("in", m.type);
  switch (m.type) {
    case "welcome":
      iceServers = m.ice_servers || [];
      iceTransportPolicy = m.ice_transport_policy === "relay" ? "relay" : "all";
      signaling.keepAlive(m.heartbeat_s);
      for (const id of [...peers.keys()]) removePeer(id);
      if (m.status === "admitted") onAdmitted(m.peers);
      else setState("waiting");
      break;
    case "waiting": setState("waiting"); break;
    case "admitted":
      if (m.ice_servers) iceServers = m.ice_servers; // the TURN server comes with admission
      onAdmitted(m.peers);
      break;
    case "ice": renewIce(m.ice_servers); break;
    case "lobby": renderLobby(m.waiting); break;
    case "peer-joined": addPeer(m.peer); updateState(); break;
    case "peer-left":
      removePeer(m.peer);
      announce(`${otherName} left the call. They can come back.`);
      updateState();
      break;
    case "offer": case "answer": case "candidate": case "restart":
      peers.get(m.from)?.session.onSignal(m);
      break;
    case "demo-show": demo.show(m.exercise); announce("Your therapist is showing you an exercise."); break;
    case "demo-control": demo.control(m); break;
    case "denied": finish("denied"); break;
    case "opened-elsewhere":
      notice("call-notice", "Your visit link was just opened on another device. It waits until your therapist lets it in. If that was not you, tell your therapist.");
      break;
    case "removed":
      for (const id of [...peers.keys()]) removePeer(id);
      admitted = false;
      notice("waiting-notice", "Your therapist moved you to the waiting room. They can let you back in.");
      break;
    case "visit-ended": finish("ended", m.reason); break;
    case "took-over":
      if (m.was_connected) notice("call-notice", "This call was open on another device where you are signed in. It continues here, and that device was closed.");
      break;
    case "bye": if (m.reason === "replaced") finish("ended", m.other_device ? "moved" : "replaced"); break;
    case "error": console.warn("signaling:", m.code, m.message); if (m.code === "room_full") announce(m.message); break;
  }
}

function notice(id, text) {
  const el = $(id);
  el.textContent = text;
  el.hidden = false;
  announce(text);
}

// A renewed TURN credential, every half lifetime while admitted: peer connections made
// from now on take it, open ones use it from their next ICE restart.
function renewIce(servers) {
  iceServers = servers || [];
  for (const { session } of peers.values()) session.setIceServers(iceServers);
}

function onAdmitted(list) {
  $("waiting-notice").hidden = true;
  admitted = true;
  for (const peer of list) addPeer(peer);
  updateState();
}

function addPeer(peer) {
  removePeer(peer.id);
  const session = new PeerSession({ peerId: peer.id, polite: peer.polite, iceServers, iceTransportPolicy, stream: media.stream, send: (msg) => { note("out", msg.type); signaling.send(msg); } });
  const video = document.createElement("video");
  Object.assign(video, { autoplay: true, playsInline: true, srcObject: session.remoteStream });
  video.dataset.testid = "remote-video";
  video.dataset.peer = peer.id;
  video.setAttribute("aria-label", `Video of ${peer.name}`);
  setSink(video);
  session.addEventListener("media", () => playRemote(video));
  session.addEventListener("state", updateState);
  $("remotes").append(video);
  peers.set(peer.id, { session, video, monitor: new QualityMonitor(session.pc), name: peer.name });
  if (muted) session.setOutgoing("audio", null);
  if (cameraOff) session.setOutgoing("video", null);
}

// A browser that blocks audible autoplay (no recent tap) refuses play(): then one large
// control over the video asks for the tap, and that tap starts every remote stream.
function playRemote(video) {
  video.play().then(() => {
    if (![...peers.values()].some((p) => p.video.paused)) $("unblock-media").hidden = true;
  }, (err) => {
    if (err.name === "NotAllowedError" && video.isConnected) $("unblock-media").hidden = false;
  });
}

$("unblock-media").addEventListener("click", () => {
  for (const { video } of peers.values()) playRemote(video);
  $("unblock-media").hidden = true;
});

function setSink(video) {
  const sink = $("pick-speaker").value;
  if (sink && video.setSinkId) video.setSinkId(sink).catch(() => { /* keep the default output */ });
}

function removePeer(id) {
  const peer = peers.get(id);
  if (!peer) return;
  peer.session.close();
  peer.video.remove();
  peers.delete(id);
}

function updateState() {
  if (!signaling || signaling.stopped) return;
  $("alone").hidden = peers.size > 0;
  if ($("remove-button")) $("remove-button").hidden = peers.size === 0;
  if (!admitted) return;
  const states = [...peers.values()].map((p) => p.session.pc.connectionState);
  let state = "waiting";
  if (signaling.ws?.readyState !== WebSocket.OPEN) state = "reconnecting";
  else if (states.includes("connected")) state = "connected";
  else if (states.some((s) => s === "disconnected" || s === "failed")) state = "reconnecting";
  else if (states.length) state = "connecting";
  setState(state);
  if (state === "connected" && !connectedSince) startTimers();
}

// -- in the call ---------------------------------------------------------------------------

function startTimers() {
  connectedSince = Date.now();
  $("elapsed").hidden = false;
  $("quality").hidden = false;
  elapsedTimer = setInterval(() => {
    const s = Math.floor((Date.now() - connectedSince) / 1000);
    $("elapsed").textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  }, 1000);
  qualityTimer = setInterval(sampleQuality, 2000);
}

async function sampleQuality() {
  const first = peers.values().next().value;
  if (!first) return;
  const q = await first.monitor.sample();
  const el = $("quality");
  el.dataset.quality = q.grade;
  const parts = [];
  if (q.rttMs != null) parts.push(`round trip ${Math.round(q.rttMs)} ms`);
  if (q.lossPct != null) parts.push(`loss ${q.lossPct.toFixed(1)}%`);
  if (q.kbpsIn != null) parts.push(`${Math.round(q.kbpsIn)} kbit/s in`);
  el.textContent = `Connection: ${q.grade}`;
  el.title = parts.join(", ");
  poorSamples = q.grade === "poor" ? poorSamples + 1 : 0;
  const warning = $("quality-warning");
  warning.hidden = poorSamples < 2;
  if (poorSamples === 2) {
    warning.textContent = "Your connection is weak. The picture may freeze; sound comes first. Moving closer to your Wi-Fi or turning your camera off can help.";
    setVideoBitrate(150_000);
  } else if (poorSamples === 0) {
    setVideoBitrate(null);
  }
}

function setVideoBitrate(bps) {
  for (const { session } of peers.values()) {
    const sender = session.senders.video;
    if (!sender) continue;
    const params = sender.getParameters();
    if (!params.encodings?.length) continue;
    params.encodings[0].maxBitrate = bps || undefined;
    sender.setParameters(params).catch(() => {});
  }
}

// Mute or camera off: nothing is sent on that kind (replaceTrack(null)) until turned back on.
function toggleOutgoing(kind) {
  const off = kind === "audio" ? (muted = !muted) : (cameraOff = !cameraOff);
  const track = media.track(kind);
  if (track) track.enabled = !off;
  for (const { session } of peers.values()) session.setOutgoing(kind, off ? null : track);
  const [id, onText, offText, onLabel, offLabel, said] = kind === "audio"
    ? ["mute-button", "Mute", "Unmute", "Mute microphone", "Unmute microphone", ["Microphone on", "Microphone muted"]]
    : ["camera-button", "Camera off", "Camera on", "Turn camera off", "Turn camera on", ["Camera on", "Camera off"]];
  const button = $(id);
  button.setAttribute("aria-pressed", String(off));
  button.textContent = off ? offText : onText;
  button.setAttribute("aria-label", off ? offLabel : onLabel);
  if (kind === "video") showLocal();
  announce(said[off ? 1 : 0]);
}

async function switchCamera() {
  const track = await media.switchCamera();
  for (const { session } of peers.values()) if (!cameraOff) session.setOutgoing("video", track);
  showLocal();
}

function stopCall() {
  for (const id of [...peers.keys()]) removePeer(id);
  clearInterval(elapsedTimer);
  clearInterval(qualityTimer);
  connectedSince = null;
  poorSamples = 0;
  $("quality-warning").hidden = true;
  if (signaling) signaling.close();
}

function leave() {
  stopCall();
  sessionStorage.removeItem(rejoinKey);
  setState("prejoin", { panel: "left" });
  show("left");
  announce("You left the visit. You can rejoin while it lasts.");
}

function finish(kind, reason) {
  stopCall();
  demo.hide();
  sessionStorage.removeItem(rejoinKey);
  media.stop();
  showLocal();
  if (kind === "denied") {
    show("denied");
  } else {
    $("ended-text").textContent = reason === "replaced"
      ? "This visit is now open in another tab or window."
      : reason === "moved"
        ? "This call moved to another device that opened your link. If that was not you, tell the clinic now."
        : "Thank you. You can close this page.";
    show("ended");
  }
  setState("ended", { panel: kind });
}

// -- the therapist's waiting room ----------------------------------------------------------

function renderLobby(waiting) {
  const list = $("lobby-list");
  const arrived = waiting.filter((w) => !waitingIds.has(w.id));
  waitingIds = new Set(waiting.map((w) => w.id));
  list.replaceChildren(...waiting.map((w) => {
    const item = document.createElement("li");
    const name = document.createElement("span");
    // Someone admitted earlier whose link opened on another browser: a leaked link, or
    // her second device. The therapist decides; the device in the call keeps it till then.
    const who = w.new_device ? `${w.name} from a new device` : w.name;
    name.textContent = `${who} (${w.role}) since ${new Date(w.since * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`;
    if (w.new_device) item.dataset.newDevice = "true";
    const admit = button("Admit", "admit-button", w, () => signaling.send({ type: "admit", participant: w.id }));
    const deny = button("Deny", "deny-button", w, () => signaling.send({ type: "deny", participant: w.id }));
    deny.classList.add("secondary");
    item.append(name, admit, deny);
    return item;
  }));
  $("lobby-empty").hidden = waiting.length > 0;
  // Always a badge with the count; the stylesheet opens the list when the count is not 0.
  $("lobby").dataset.count = String(waiting.length);
  $("lobby-badge").textContent = String(waiting.length);
  if (arrived.length) {
    media.chime();
    announce(`${arrived.map((w) => (w.new_device ? `${w.name} from a new device` : w.name)).join(", ")} is waiting to be let in.`);
  }
}

function button(text, testid, who, onClick) {
  const el = document.createElement("button");
  el.type = "button";
  el.textContent = text;
  el.dataset.testid = testid;
  el.dataset.participant = who.id;
  el.setAttribute("aria-label", `${text} ${who.name}`);
  el.addEventListener("click", onClick);
  return el;
}

// -- start ---------------------------------------------------------------------------------

$("mute-button").addEventListener("click", () => toggleOutgoing("audio"));
$("camera-button").addEventListener("click", () => toggleOutgoing("video"));
$("switch-camera").addEventListener("click", switchCamera);
$("leave-button").addEventListener("click", leave);
$("end-visit-button")?.addEventListener("click", () => signaling?.send({ type: "end-visit" }));
$("remove-button")?.addEventListener("click", openRemoveDialog);

// The therapist takes someone out of the call: back to the waiting room, or with her
// link revoked (a leaked link, someone who should not be there).
function openRemoveDialog() {
  const dialog = $("remove-dialog");
  $("remove-list").replaceChildren(...[...peers.entries()].map(([id, peer]) => {
    const item = document.createElement("li");
    const name = document.createElement("strong");
    name.textContent = peer.name;
    const who = { id, name: peer.name };
    const send = (revoke) => () => {
      signaling.send({ type: "remove", participant: id, revoke });
      dialog.close();
    };
    const back = button("Back to waiting room", "remove-to-waiting", who, send(false));
    back.setAttribute("aria-label", `Move ${peer.name} back to the waiting room`);
    const revoke = button("Remove and revoke link", "remove-revoke", who, send(true));
    revoke.classList.add("danger");
    revoke.setAttribute("aria-label", `Remove ${peer.name} and revoke their link`);
    item.append(name, back, revoke);
    return item;
  }));
  dialog.showModal();
}
wirePrejoin();
// A handle for diagnostics and tests: the signaling trace (types only) and the peers.
window.visitroomCall = { dropSocket: () => signaling?.drop(), peers, trace, sent, demoLoops: runningLoops };

const mediaReady = startMedia().catch((err) => console.warn("media:", err));
await mediaReady;
library?.load().catch((err) => console.warn("library:", err));
root.dataset.ready = "true";
if (sessionStorage.getItem(rejoinKey)) join();
