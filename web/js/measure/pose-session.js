// One measurement on the patient's own camera: frames from a playing <video> go to the pose
// worker (pose-worker.js) at most `maxFps` times a second, one at a time, so a slow phone
// measures fewer frames instead of falling behind; each answer goes through the Measurer
// (pose-math.js), and every result is an "update" event ("failed" if the worker dies). The
// model loads only when a session starts: a page that never measures never downloads it.

import { Measurer } from "./pose-math.js";

const FRAME_WIDTH = 320; // MoveNet Lightning looks at 192 × 192: a larger frame only costs
const MAX_FPS = 20;
const LOAD_TIMEOUT_MS = 60000;
const MAX_FAILED_FRAMES = 20; // in a row: the worker answers, but nothing it answers works

// The page's one pose worker, kept once started: a second measurement starts at once with the
// model already loaded, and works offline once the first has loaded it (the worker's script is
// not fetched again). Each request carries an id its answer names; a worker that cannot load
// (its script unreachable) fails every request instead of leaving it waiting.
class PoseWorker {
  constructor() {
    this.url = new URL("./pose-worker.js", import.meta.url).href;
    this.worker = new Worker(this.url, { type: "module" });
    this.pending = new Map(); // request id -> {resolve, reject}
    this.next = 0;
    this.dead = null; // why it failed, once it did
    this.loaded = null; // the model's load, once asked
    this.worker.addEventListener("message", ({ data }) => {
      const request = this.pending.get(data.id);
      if (!request) return;
      this.pending.delete(data.id);
      if (data.type === "failed") request.reject(new Error(data.reason));
      else request.resolve(data);
    });
    this.worker.addEventListener("error", (event) => this.fail(event.message || "the pose worker did not load"));
    this.worker.addEventListener("messageerror", () => this.fail("the pose worker's answer could not be read"));
  }

  ask(message, transfer = []) {
    if (this.dead) return Promise.reject(new Error(this.dead));
    const id = ++this.next;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...message, id }, transfer);
    });
  }

  load(assets, keypoints) {
    if (this.loaded) return this.loaded;
    // A model that has not loaded within a minute (a stalled download) fails, not waits.
    const timer = setTimeout(() => this.fail("the pose model did not load in time"), LOAD_TIMEOUT_MS);
    this.loaded = this.ask({ type: "load", ...assets, keypoints }).finally(() => clearTimeout(timer)).then((loaded) => {
      // A page kept for offline use (her plan page) keeps the worker's files too: a worker's
      // own fetches do not pass its page's service worker.
      navigator.serviceWorker?.controller?.postMessage({ keep: [this.url, ...(loaded.fetched || [])] });
      return loaded;
    });
    return this.loaded;
  }

  fail(reason) {
    this.dead = reason;
    for (const { reject } of this.pending.values()) reject(new Error(reason));
    this.pending.clear();
    if (pageWorker === this) pageWorker = null; // the next measurement tries a new one
    this.worker.terminate();
  }
}
let pageWorker = null;

export class PoseSession extends EventTarget {
  // `setup`: measure-setup.js's answer (the model's files and the measurements).
  constructor({ video, setup, measurement, side = "auto", exercise = null, maxFps = MAX_FPS }) {
    super();
    this.video = video;
    this.assets = setup.assets;
    this.definitions = setup.definitions;
    this.measurementId = measurement;
    this.side = side;
    this.exercise = exercise;
    this.interval = 1000 / maxFps;
    this.worker = null;
    this.running = false;
    this.frames = 0;
    this.modelMs = 0;
    this.startedAt = 0;
  }

  // Loads the model (once a page), then measures until stop(). Rejects when the model cannot
  // load (the page says measuring is unavailable).
  async start() {
    this.measurer = new Measurer(this.definitions, this.measurementId, { side: this.side, exercise: this.exercise });
    pageWorker ??= new PoseWorker();
    this.worker = pageWorker;
    const { humanUrl, modelUrl, wasmUrl } = this.assets;
    try {
      ({ backend: this.backend } = await this.worker.load({ humanUrl, modelUrl, wasmUrl }, this.definitions.keypoints));
    } catch (err) {
      this.worker.fail(err.message); // a model that failed to load is not kept
      throw err;
    }
    this.running = true;
    this.startedAt = performance.now();
    this.loop();
  }

  async loop() {
    let lastFrame = performance.now();
    let failedFrames = 0;
    while (this.running) {
      const began = performance.now();
      const video = this.video;
      if (!(video.readyState >= 2 && video.videoWidth)) {
        // No picture (the camera turned off, its track ended): said, as a joint out of sight is.
        if (began - lastFrame > this.definitions.frame_rules.lost_seconds * 1000) {
          this.dispatchEvent(new CustomEvent("update", { detail: this.measurer.report(this.measurer.measuring ? "measuring" : "framing", "not_visible") }));
        }
      } else {
        lastFrame = began;
        try {
          const height = Math.round((FRAME_WIDTH * video.videoHeight) / video.videoWidth);
          const bitmap = await createImageBitmap(video, { resizeWidth: FRAME_WIDTH, resizeHeight: height, resizeQuality: "low" });
          if (!this.running) { bitmap.close(); break; }
          const pose = await this.worker.ask({ type: "frame", bitmap }, [bitmap]);
          if (!this.running) break;
          this.frames += 1;
          failedFrames = 0;
          this.modelMs += pose.ms;
          const result = this.measurer.push({ t: performance.now(), width: FRAME_WIDTH, height, points: pose.points });
          this.dispatchEvent(new CustomEvent("update", { detail: result }));
        } catch (err) {
          if (!this.running) break;
          failedFrames += 1;
          if (this.worker.dead || failedFrames >= MAX_FAILED_FRAMES) {
            // The worker is gone: this measurement ends ("failed"), the next tries a new one.
            this.running = false;
            this.dispatchEvent(new CustomEvent("failed", { detail: err.message }));
            break;
          }
          console.warn("pose frame:", err.message);
        }
      }
      const wait = this.interval - (performance.now() - began);
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  // Frames measured a second since the start, and the model's mean time a frame.
  figures() {
    const seconds = (performance.now() - this.startedAt) / 1000;
    return { frames: this.frames, fps: seconds > 0 ? this.frames / seconds : 0, modelMs: this.frames ? this.modelMs / this.frames : 0, backend: this.backend };
  }

  stop() {
    this.running = false; // the page's worker stays, idle, for the next measurement
  }
}
