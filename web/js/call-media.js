// The page's own media by source (as LiveKit labels tracks): "camera" and "microphone"
// from devices.js, later "screen". Emits "change" (the source; null: the devices started or stopped).
import { LocalMedia } from "./devices.js";

const CAPTURED = { microphone: "audio", camera: "video" };
// A shared screen, window or tab: no sound, few frames (text and slides, not motion).
const DISPLAY = { video: { frameRate: { ideal: 10, max: 15 } }, audio: false };

export class CallMedia extends EventTarget {
  constructor() {
    super();
    this.devices = new LocalMedia();
    this.sources = new Map(); // source -> MediaStreamTrack
    this.off = new Set();
    this.screenStream = new MediaStream(); // its id names the screen to peers (negotiation.js)
  }

  // Most phones cannot share their screen.
  static get canShare() { return !!navigator.mediaDevices?.getDisplayMedia; }

  get stream() { return this.devices.stream; }

  async start(options) {
    await this.devices.start(options);
    this.capture();
  }

  stop() {
    this.devices.stop();
    this.unshare();
    this.capture();
  }

  // Take the tracks the devices give now.
  capture() {
    for (const [source, kind] of Object.entries(CAPTURED)) this.replace(source, this.devices.track(kind), false);
    this.emit(null);
  }

  // Add, replace or (with null) remove the track of a source.
  replace(source, track, tell = true) {
    if (track) this.sources.set(source, track);
    else this.sources.delete(source);
    if (tell) this.emit(source);
  }

  track(source) { return this.sources.get(source) || null; }

  // What peers send for this source: nothing while it is switched off.
  sending(source) { return this.off.has(source) ? null : this.track(source); }

  // Mute or camera off, and back: the track stays, disabled. Returns whether it is off.
  toggle(source) {
    const off = !this.off.delete(source);
    if (off) this.off.add(source);
    const track = this.track(source);
    if (track) track.enabled = !off;
    this.emit(source);
    return off;
  }

  async switchCamera() {
    this.replace("camera", await this.devices.switchCamera());
  }

  // Share what the person picks in the browser's dialog (refusing it throws NotAllowedError).
  // The browser's own "Stop sharing" ends the track: that stops the share as the page's does.
  async share() {
    const track = (await navigator.mediaDevices.getDisplayMedia(DISPLAY)).getVideoTracks()[0];
    track.contentHint = "detail";
    track.addEventListener("ended", () => { if (this.track("screen") === track) this.unshare(); });
    this.unshare();
    this.replace("screen", track);
  }

  unshare() {
    const track = this.track("screen");
    if (!track) return;
    this.replace("screen", null);
    track.stop();
  }

  emit(source) {
    this.dispatchEvent(new CustomEvent("change", { detail: source }));
  }
}
