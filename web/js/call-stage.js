// The call on screen: the other participants' videos (one per peer, played through the
// chosen speaker) and, while connected, the elapsed time and the connection quality.
import { $ } from "./call-page.js";
import { t } from "./i18n.js";
import { gradeText } from "./quality.js";

export function tilesView(call) {
  const videos = new Map(); // participant id -> <video>

  call.addEventListener("peer-added", ({ detail: { id, name, session } }) => {
    const video = document.createElement("video");
    Object.assign(video, { autoplay: true, playsInline: true, srcObject: session.remoteStream });
    video.dataset.testid = "remote-video";
    video.dataset.peer = id;
    video.setAttribute("aria-label", t("Video of {name}", { name }));
    setSink(video);
    session.addEventListener("media", () => play(video));
    $("remotes").append(video);
    videos.set(id, video);
  });
  call.addEventListener("peer-removed", ({ detail: { id } }) => {
    videos.get(id)?.remove();
    videos.delete(id);
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

// The quality shown is the first peer's. A weak connection says how to help and caps the
// video bitrate: sound comes first.
export function indicatorsView(call) {
  let since = null;
  let elapsedTimer = null;
  let qualityTimer = null;
  let poorSamples = 0;

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
    poorSamples = 0;
    $("quality-warning").hidden = true;
  });

  async function sample() {
    const first = call.peers.values().next().value;
    if (!first) return;
    const q = await first.monitor.sample();
    const el = $("quality");
    el.dataset.quality = q.grade;
    const parts = [];
    if (q.rttMs != null) parts.push(t("round trip {ms} ms", { ms: Math.round(q.rttMs) }));
    if (q.lossPct != null) parts.push(t("loss {pct}%", { pct: q.lossPct.toFixed(1) }));
    if (q.kbpsIn != null) parts.push(t("{kbps} kbit/s in", { kbps: Math.round(q.kbpsIn) }));
    el.textContent = t("Connection: {grade}", { grade: gradeText(q.grade) });
    el.title = parts.join(", ");
    poorSamples = q.grade === "poor" ? poorSamples + 1 : 0;
    const warning = $("quality-warning");
    warning.hidden = poorSamples < 2;
    if (poorSamples === 2) {
      warning.textContent = t("Your connection is weak. The picture may freeze; sound comes first. Moving closer to your Wi-Fi or turning your camera off can help.");
      setVideoBitrate(150_000);
    } else if (poorSamples === 0) {
      setVideoBitrate(null);
    }
  }

  function setVideoBitrate(bps) {
    for (const { session } of call.peers.values()) {
      const sender = session.senders.camera;
      if (!sender) continue;
      const params = sender.getParameters();
      if (!params.encodings?.length) continue;
      params.encodings[0].maxBitrate = bps || undefined;
      sender.setParameters(params).catch(() => {});
    }
  }
}
