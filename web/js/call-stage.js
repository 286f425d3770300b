// The call on screen: the other participants' videos (one per peer, played through the
// chosen speaker; a shared screen as its own tile) and, while connected, the elapsed time,
// the connection quality and the video steps a weak connection takes, on both sides.
import { $ } from "./call-page.js";
import { t } from "./i18n.js";
import { gradeText } from "./quality.js";

// Screen tiles and the weak network's steps load with the call, not with the page.
let shareModule = null, weakModule = null;
const share = () => (shareModule ??= import("./call-share.js"));
// What a weak network changes: `use` gets the page's one WeakNetwork.
const weak = (use) => (weakModule ??= import("./call-weak-network.js").then(({ WeakNetwork }) => new WeakNetwork()))
  .then(use).catch((err) => console.warn("weak network:", err));

export function tilesView(call) {
  const videos = new Map(); // participant id -> <video>
  const screens = new Map(); // participant id -> a promise of what removes its screen tile

  call.addEventListener("peer-added", ({ detail: { id, name, session } }) => {
    const video = document.createElement("video");
    Object.assign(video, { autoplay: true, playsInline: true, srcObject: session.remoteStream });
    video.dataset.testid = "remote-video";
    video.dataset.peer = id;
    video.setAttribute("aria-label", t("Video of {name}", { name }));
    setSink(video);
    session.addEventListener("media", () => play(video));
    session.addEventListener("data", ({ detail: m }) => {
      if (m.type === "video-step") weak((w) => { if (videos.has(id)) w.peerStep(id, name, m.step); });
    });
    $("remotes").append(video);
    videos.set(id, video);
    screens.set(id, share().then(({ screenTile }) => screenTile({ id, name, session }), (err) => {
      console.warn("screen tile:", err);
      return () => {};
    }));
  });
  call.addEventListener("peer-removed", ({ detail: { id } }) => {
    videos.get(id)?.remove();
    videos.delete(id);
    screens.get(id)?.then((remove) => remove());
    screens.delete(id);
    if (weakModule) weak((w) => w.peerGone(id));
  });

  call.addEventListener("roster", ({ detail: count }) => { $("alone").hidden = count > 0; });

  // A browser that blocks audible autoplay (no recent tap) refuses play(): then one large
  // control over the video asks for the tap, and that tap starts every remote stream.
  function play(video) {
    video.play().then(() => {
      if (![...videos.values()].some((v) => v.paused)) $("unblock-media").hidden = true;
    }, (err) => {
      if (err.name === "NotAllowedError" && video.isConnected) $("unblock-media").hidden = false;
    });
  }

  $("unblock-media").addEventListener("click", () => {
    for (const video of videos.values()) play(video);
    $("unblock-media").hidden = true;
  });
  $("pick-speaker").addEventListener("change", () => {
    for (const video of videos.values()) setSink(video);
  });
}

function setSink(video) {
  const sink = $("pick-speaker").value;
  if (sink && video.setSinkId) video.setSinkId(sink).catch(() => { /* keep the default output */ });
}

// The quality shown is the first peer's. Every reading of every peer goes to the weak
// network's steps (call-weak-network.js): sound comes first.
export function indicatorsView(call) {
  let since = null;
  let elapsedTimer = null;
  let qualityTimer = null;

  call.addEventListener("status", ({ detail: { state } }) => {
    if (state !== "connected" || since) return;
    since = Date.now();
    $("elapsed").hidden = false;
    $("quality").hidden = false;
    elapsedTimer = setInterval(() => {
      const s = Math.floor((Date.now() - since) / 1000);
      $("elapsed").textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
    }, 1000);
    qualityTimer = setInterval(sample, 2000);
  });
  call.addEventListener("stopped", () => {
    clearInterval(elapsedTimer);
    clearInterval(qualityTimer);
    since = null;
    if (weakModule) weak((w) => w.reset());
  });

  async function sample() {
    const peers = [...call.peers.values()];
    if (!peers.length) return;
    const readings = await Promise.all(peers.map((p) => p.monitor.sample().catch(() => ({ grade: "unknown" })))); // a closed connection
    show(readings[0]);
    weak((w) => w.readings(peers.map(({ session }, i) => [session, readings[i].grade])));
  }

  function show(q) {
    const el = $("quality");
    el.dataset.quality = q.grade;
    const parts = [];
    if (q.rttMs != null) parts.push(t("round trip {ms} ms", { ms: Math.round(q.rttMs) }));
    if (q.lossPct != null) parts.push(t("loss {pct}%", { pct: Math.max(q.lossPct, q.lossOutPct ?? 0).toFixed(1) }));
    if (q.kbpsIn != null) parts.push(t("{kbps} kbit/s in", { kbps: Math.round(q.kbpsIn) }));
    el.textContent = t("Connection: {grade}", { grade: gradeText(q.grade) });
    el.title = parts.join(", ");
  }
}
