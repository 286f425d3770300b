// The page's own media by source (as LiveKit labels tracks): "camera" and "microphone"
// from devices.js, later "screen". Emits "change" (the source; null: the devices started or stopped).
import { LocalMedia } from "./devices.js";

const CAPTURED = { microphone: "audio", camera: "video" };

export class CallMedia extends EventTarget {
  constructor() {
    super();
    this.devices = new LocalMedia();
    this.sources = new Map(); // source -> MediaStreamTrack
    this.off = new Set();
  }

  get stream() { return this.devices.stream; }

  async start(options) {
    await this.devices.start(options);
    this.capture();
  }

  stop() {
    this.devices.stop();
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

  emit(source) {
    this.dispatchEvent(new CustomEvent("change", { detail: source }));
  }
}
