// The local camera and microphone: permission, preview, device pickers, mic level, speaker test.
import { t } from "./i18n.js";

export class LocalMedia extends EventTarget {
  constructor() {
    super();
    this.stream = null;
    this.error = null;
    this.audioContext = null;
    this.meterTimer = null;
    this.meterSource = null;
    this.facing = "user";
  }

  // Ask for camera and microphone; fall back to microphone only. Returns the stream or null.
  async start({ audioId, videoId, video = true, audio = true } = {}) {
    this.stop();
    const want = {
      audio: audio ? (audioId ? { deviceId: { exact: audioId } } : true) : false,
      video: video ? (videoId ? { deviceId: { exact: videoId } } : { facingMode: this.facing, width: { ideal: 1280 }, height: { ideal: 720 } }) : false,
    };
    this.error = null;
    try {
      this.stream = await navigator.mediaDevices.getUserMedia(want);
    } catch (err) {
      this.error = err;
      if (want.video && want.audio) {
        try {
          this.stream = await navigator.mediaDevices.getUserMedia({ audio: want.audio });
        } catch (err2) {
          this.error = err2;
          this.stream = null;
        }
      } else {
        this.stream = null;
      }
    }
    this.dispatchEvent(new Event("change"));
    return this.stream;
  }

  track(kind) {
    return this.stream ? this.stream.getTracks().find((t) => t.kind === kind) || null : null;
  }

  // What went wrong, in plain words: "denied", "missing" or "busy"; null when fine.
  problem() {
    if (!this.error) return null;
    const name = this.error.name;
    if (name === "NotAllowedError" || name === "SecurityError") return "denied";
    if (name === "NotFoundError" || name === "OverconstrainedError") return "missing";
    return "busy";
  }

  async devices() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return [];
    return navigator.mediaDevices.enumerateDevices();
  }

  // Fill <select> elements with the devices of each kind; returns how many cameras exist.
  async fillPickers({ camera, microphone, speaker }) {
    const devices = await this.devices();
    // A device the browser does not name yet (no permission): its kind and number.
    const unnamed = { videoinput: (n) => t("Camera {n}", { n }), audioinput: (n) => t("Microphone {n}", { n }),
      audiooutput: (n) => t("Speaker {n}", { n }) };
    const fill = (select, kind, current) => {
      if (!select) return 0;
      const list = devices.filter((d) => d.kind === kind);
      select.replaceChildren(...list.map((d, i) => {
        const option = document.createElement("option");
        option.value = d.deviceId;
        option.textContent = d.label || unnamed[kind](i + 1);
        option.selected = d.deviceId === current;
        return option;
      }));
      select.disabled = list.length === 0;
      return list.length;
    };
    const cams = fill(camera, "videoinput", this.track("video")?.getSettings().deviceId);
    fill(microphone, "audioinput", this.track("audio")?.getSettings().deviceId);
    if (speaker) {
      const canPick = "setSinkId" in HTMLMediaElement.prototype;
      speaker.closest("label").hidden = !canPick;
      if (canPick) fill(speaker, "audiooutput", "default");
    }
    return cams;
  }

  context() {
    if (!this.audioContext) this.audioContext = new AudioContext();
    if (this.audioContext.state === "suspended") this.audioContext.resume();
    return this.audioContext;
  }

  // Show the microphone's level (0..1) in a <meter> ten times a second.
  meter(element) {
    this.stopMeter();
    const track = this.track("audio");
    if (!track || !element) return;
    const ctx = this.context();
    const source = ctx.createMediaStreamSource(new MediaStream([track]));
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 512;
    source.connect(analyser);
    this.meterSource = source;
    const samples = new Float32Array(analyser.fftSize);
    this.meterTimer = setInterval(() => {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const s of samples) sum += s * s;
      element.value = Math.min(1, Math.sqrt(sum / samples.length) * 4);
    }, 100);
  }

  // A new device gets a new meter: the old one's source lets go of its track.
  stopMeter() {
    clearInterval(this.meterTimer);
    this.meterSource?.disconnect();
    this.meterSource = null;
  }

  // Play a short two-note chime through the chosen speaker.
  async chime(sinkId) {
    const ctx = this.context();
    if (sinkId && ctx.setSinkId) {
      try { await ctx.setSinkId(sinkId); } catch { /* keep the default output */ }
    }
    const now = ctx.currentTime;
    [660, 880].forEach((freq, i) => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, now + i * 0.25);
      gain.gain.exponentialRampToValueAtTime(0.25, now + i * 0.25 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.25 + 0.4);
      osc.connect(gain).connect(ctx.destination);
      osc.start(now + i * 0.25);
      osc.stop(now + i * 0.25 + 0.45);
    });
  }

  // The other camera on a phone (front/back).
  async switchCamera() {
    this.facing = this.facing === "user" ? "environment" : "user";
    const old = this.track("video");
    const next = await navigator.mediaDevices.getUserMedia({ video: { facingMode: this.facing } });
    const track = next.getVideoTracks()[0];
    if (old) { this.stream.removeTrack(old); old.stop(); }
    this.stream.addTrack(track);
    this.dispatchEvent(new Event("change"));
    return track;
  }

  stop() {
    this.stopMeter();
    if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
    this.stream = null;
  }
}
