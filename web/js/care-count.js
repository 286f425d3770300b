// Counting an exercise with her own camera on her plan page (templates/care/_count.html).
// Loaded with her first tap on "Count with camera": a page where she never counts never
// downloads it, nor the pose model. The sheet asks her consent every time; then the front
// camera shows her herself, the pose model counts on this device (measure/pose-session.js)
// and her angle and count are shown large; Stop ends it and gives back only the numbers,
// which care-home.js puts in her log entry for her to check before she saves.

import { el } from "./dom.js";
import { t } from "./i18n.js";
import { wireValue } from "./measure/measure-messages.js";
import { loadSetup } from "./measure/measure-setup.js";
import { consentNotes, errorLabel, formatValue, labelOf } from "./measure/measure-words.js";
import { PoseSession } from "./measure/pose-session.js";

const CAMERA = { facingMode: "user", width: { ideal: 640 }, height: { ideal: 480 } };

export class CameraCount {
  constructor(root) {
    this.root = root;
    this.setup = null; // measure-setup.js's answer: the model's files, the measurements, the words
    this.el = Object.fromEntries(["sheet", "consent", "what", "stop-if", "notes", "allow", "decline", "live", "video", "hint",
      "value", "value-label", "reps", "reps-label", "error", "stop"].map((name) => [name, document.getElementById(`count-${name}`)]));
    this.current = null; // { measurement, def, opener, finish, stream, session, last }
    this.el.allow.addEventListener("click", () => this.allow());
    this.el.decline.addEventListener("click", () => this.end(false));
    this.el.stop.addEventListener("click", () => this.end(true));
    this.el.sheet.addEventListener("keydown", (event) => {
      if (/^Esc(ape)?$/.test(event.key)) this.end(!!this.current?.session);
    });
  }

  get words() { return this.setup.words; }

  /**
   * Ask her consent for counting one exercise and count until she stops. Resolves to
   * {measurement, reps, peak, line} (peak null when nothing was measured; line the words for
   * her log), or null when she declined or nothing was counted. Rejects when counting is
   * not available (no connection for the setup, no pose model on this server).
   */
  async open({ measurement, exercise = null, name, opener, stopIf = "" }) {
    if (this.current) this.end(false);
    const setup = await loadSetup(this.root);
    const def = setup.definitions?.measurements[measurement];
    if (!setup.assets || !setup.words || !def || !this.el.sheet) throw new Error("counting is not available");
    this.setup = setup;
    return new Promise((finish) => {
      this.current = { measurement, exercise, def, opener, finish, stream: null, session: null, last: null };
      this.el.what.textContent = `${name}: ${labelOf(this.words, measurement, null)}`;
      this.el["stop-if"].textContent = stopIf;
      this.el.notes.replaceChildren(...consentNotes(this.words, setup.definitions, measurement, exercise)
        .map((text) => el("p", { className: "muted", textContent: text })));
      this.el.consent.hidden = false;
      this.el.live.hidden = true;
      this.el.sheet.hidden = false;
      document.body.classList.add("counting");
      this.el.allow.focus();
    });
  }

  async allow() {
    const current = this.current;
    if (!current || current.stream) return;
    const { def, measurement } = current;
    const hold = def.kind === "hold";
    this.el.consent.hidden = true;
    this.el.live.hidden = false;
    this.el.hint.textContent = this.words.words.loading;
    this.el.value.textContent = "–";
    this.el.reps.textContent = "0";
    this.el["value-label"].textContent = hold ? this.words.words.hold : labelOf(this.words, measurement, null);
    this.el["reps-label"].textContent = hold ? t("Holds") : this.words.words.reps;
    this.el.error.textContent = errorLabel(this.words, def);
    this.el.stop.focus();
    try {
      current.stream = await navigator.mediaDevices.getUserMedia({ video: CAMERA, audio: false });
      if (this.current !== current) { stopTracks(current.stream); return; }
      this.el.video.srcObject = current.stream;
      await this.el.video.play().catch(() => {});
      await playing(this.el.video);
    } catch (err) {
      console.warn("counting camera:", err?.message);
      if (this.current === current) this.el.hint.textContent = t("The camera could not be started. Check that this page may use it, or type your repetitions in the log.");
      return;
    }
    const session = new PoseSession({ video: this.el.video, setup: this.setup, measurement, side: "auto", exercise: current.exercise });
    current.session = session;
    session.addEventListener("update", ({ detail }) => this.show(current, detail));
    session.addEventListener("failed", () => {
      if (this.current === current) this.el.hint.textContent = this.words.words.unavailable;
    });
    try {
      await session.start();
    } catch (err) {
      console.warn("counting:", err?.message);
      session.stop();
      current.session = null;
      if (this.current !== current) return;
      this.el.hint.textContent = navigator.onLine === false
        ? t("Counting cannot start without a connection just now. Carry on with the exercise and type your repetitions in the log.")
        : this.words.words.unavailable;
      return;
    }
    if (this.current !== current) session.stop();
    else this.el.sheet.dataset.state = "counting";
  }

  show(current, result) {
    if (this.current !== current) return;
    current.last = result;
    const hint = result.hint ? this.words.hints[result.hint] : "";
    if (this.el.hint.textContent !== hint) this.el.hint.textContent = hint;
    this.el.value.textContent = formatValue(this.words, current.def, result.value);
    this.el.reps.textContent = String(result.reps);
  }

  // She stopped (keep: true, the numbers go to her log) or declined.
  end(keep) {
    const current = this.current;
    if (!current) return;
    this.current = null;
    current.session?.stop();
    stopTracks(current.stream);
    this.el.video.srcObject = null;
    this.el.sheet.hidden = true;
    delete this.el.sheet.dataset.state;
    document.body.classList.remove("counting");
    current.opener?.focus({ preventScroll: true });
    current.finish(keep ? this.counted(current) : null);
  }

  counted({ def, measurement, last }) {
    const reps = Math.min(this.setup.definitions.limits.reps, last?.reps || 0);
    const peak = wireValue(last?.peak, def);
    if (!reps && peak === null) return null;
    const best = peak === null ? "–" : formatValue(this.words, def, peak);
    const estimated = errorLabel(this.words, def);
    const line = def.kind === "hold"
      ? t("Timed by camera: {reps} holds, longest {best} ({estimated})", { reps, best, estimated })
      : t("Counted by camera: {reps} repetitions, largest {best} ({estimated})", { reps, best, estimated });
    return { measurement, reps, peak, line };
  }
}

function stopTracks(stream) {
  for (const track of stream?.getTracks() || []) track.stop();
}

// Resolves once the video has a picture (its size is known).
function playing(video) {
  if (video.readyState >= 2 && video.videoWidth) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no picture")), 10000);
    video.addEventListener("loadeddata", () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}
