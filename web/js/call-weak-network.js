// A weak network in the call, in plain words on both sides. Each peer's quality readings
// step this page's camera towards that peer down or back up (the policy:
// call-quality-steps.js), applied to its sender and told to the peer on the data channel
// ("video-step"); this page says the lowest step. The steps a peer tells are shown over
// its video. Loaded with the call's first reading or told step (call-stage.js).
import { $, announce, announceFrom } from "./call-page.js";
import { RETRY_STEP, STEPS, STEP_NAMES, advance, encodingAt, startSteps } from "./call-quality-steps.js";
import { t } from "./i18n.js";

export class WeakNetwork {
  constructor() {
    this.states = new Map(); // PeerSession -> {step, poor, good}
    this.said = 0; // the step this page says
    this.told = new Map(); // participant id -> the step it told last
    this.noteOf = null; // whose step the note shows
    $("retry-video").addEventListener("click", () => this.retry());
  }

  // One round of readings, [session, grade] for every peer now in the call.
  readings(rounds) {
    for (const [session, grade] of rounds) {
      const before = this.states.get(session) || startSteps();
      const after = advance(before, grade);
      if (after.step !== before.step) this.setStep(session, after);
      else this.states.set(session, after);
    }
    for (const session of this.states.keys()) if (!rounds.some(([s]) => s === session)) this.states.delete(session);
    this.say();
  }

  // "Try video again" from audio only: the smallest video, then up as readings allow.
  retry() {
    for (const [session, state] of this.states) {
      if (state.step > RETRY_STEP) this.setStep(session, { ...startSteps(), step: RETRY_STEP });
    }
    this.say();
  }

  // The call stopped: the next one starts at full video.
  reset() {
    this.states.clear();
    this.said = 0;
    $("quality-warning").hidden = true;
  }

  // Apply a step to the camera sent to this peer, and tell the peer.
  setStep(session, state) {
    this.states.set(session, state);
    session.sendData({ type: "video-step", step: STEPS[state.step].name });
    const sender = session.senders.camera;
    if (!sender) return;
    const params = sender.getParameters();
    if (!params.encodings?.length) return;
    params.encodings[0] = encodingAt(params.encodings[0], state.step);
    sender.setParameters(params).catch((err) => console.warn("video step:", err.name));
  }

  say() {
    const step = Math.max(0, ...[...this.states.values()].map((s) => s.step));
    if (step === this.said) return;
    const name = STEPS[step].name;
    const text = {
      reduced: t("Your connection is weak: your video is reduced. Sound comes first."),
      low: t("Your connection is weak: your video is reduced to a small picture. Sound comes first."),
      audio: t("Your connection is too weak for video: you are on audio only. The exercise demo keeps running."),
    }[name];
    const warning = $("quality-warning");
    warning.dataset.step = name;
    warning.hidden = !text;
    $("retry-video").hidden = name !== "audio";
    if (text) $("quality-warning-text").textContent = text;
    else announce(t("Your connection is better: your video is back."));
    this.said = step;
  }

  // A peer told its camera's step. A step that is no step, or told again, changes nothing.
  peerStep(id, name, step) {
    if (!STEP_NAMES.includes(step) || this.told.get(id) === step) return;
    this.told.set(id, step);
    const text = step === "audio" ? t("{name}'s connection is too weak for video: you can still hear them.", { name })
      : step === "full" ? "" : t("{name}'s connection is weak: their video is reduced.", { name });
    if (!text && this.noteOf !== id) return;
    this.showNote(text ? id : null, step, text);
    announceFrom(id, text || t("{name}'s video is back.", { name }));
  }

  peerGone(id) {
    this.told.delete(id);
    if (this.noteOf === id) this.showNote(null, "full", "");
  }

  showNote(id, step, text) {
    const note = $("peer-quality");
    this.noteOf = id;
    note.hidden = !text;
    note.dataset.step = step;
    if (text) note.textContent = text;
  }
}
