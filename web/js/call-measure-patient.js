// The patient's side of measuring in the call: her therapist asks (`measure-request` on the
// data channel); a sheet over the video asks her consent, every time; once she allows, the
// pose model runs on her own camera on this device (measure/pose-session.js) and she sees
// her angle and count large; only numbers go back, to the therapist who asked
// (`measure-state`, `measure-sample`, five a second at most). Either side stops it with one
// tap. Loaded with the first request, sheet and styles included: a patient who is never
// measured never downloads any of it.

import { $, announce } from "./call-page.js";
import { el } from "./dom.js";
import { t } from "./i18n.js";
import { validMeasureMessage, wireValue } from "./measure/measure-messages.js";
import { loadSetup } from "./measure/measure-setup.js";
import { consentNotes, errorLabel, formatValue, labelOf } from "./measure/measure-words.js";
import { PoseSession } from "./measure/pose-session.js";
import { useStylesheet } from "./measure/stylesheet.js";

const SAMPLE_MS = 200;

// The sheet over her video: consent (what is measured, what travels, where to put the
// phone, the posture's safety line and the pain rule), then her own numbers and one Stop.
function buildSheet() {
  const big = (id, label) => el("p", {}, el("strong", { id, dataset: { testid: id }, textContent: "–" }), label);
  const sheet = el("section", { id: "measure", className: "measure-sheet", dataset: { testid: "measure-sheet" }, "aria-labelledby": "measure-title", hidden: true },
    el("div", { id: "measure-consent", dataset: { testid: "measure-consent" } },
      el("h2", { id: "measure-title", textContent: t("Measure with your camera?") }),
      el("p", {}, el("strong", { id: "measure-asked" })),
      el("p", { id: "measure-about" }),
      el("div", { id: "measure-notes", className: "measure-notes" }),
      el("div", { className: "actions" },
        el("button", { type: "button", id: "measure-allow", dataset: { testid: "measure-allow" }, className: "primary", textContent: t("Start measuring") }),
        el("button", { type: "button", id: "measure-decline", dataset: { testid: "measure-decline" }, className: "secondary", textContent: t("Not now") }))),
    el("div", { id: "measure-live", dataset: { testid: "measure-live" }, hidden: true },
      el("p", { id: "measure-hint", dataset: { testid: "measure-hint" }, className: "measure-hint", "aria-live": "polite" }),
      el("div", { className: "measure-big" },
        big("measure-own-value", el("span", { id: "measure-own-label", className: "measure-label" })),
        big("measure-own-reps", el("span", { className: "measure-label", textContent: t("Repetitions") }))),
      el("p", { id: "measure-own-error", className: "measure-label" }),
      el("button", { type: "button", id: "measure-own-stop", dataset: { testid: "measure-own-stop" }, className: "secondary", textContent: t("Stop measuring") })));
  $("stage").append(sheet);
  return sheet;
}

export class PatientMeasuring {
  constructor({ root }) {
    this.root = root;
    this.setup = null; // what measuring needs, loaded with the first request (measure-setup.js)
    this.current = null; // { id, measurement, side, peerId, peer (PeerSession), session (PoseSession), startedAt, lastSent }
    useStylesheet("measure.css");
    buildSheet();
    $("measure-own-value").textContent = "–";
    $("measure-own-reps").textContent = "0";
    $("measure-allow").addEventListener("click", () => this.allow());
    $("measure-decline").addEventListener("click", () => this.end("declined"));
    $("measure-own-stop").addEventListener("click", () => this.end("stopped"));
  }

  get words() { return this.setup.words; }

  // A message from the therapist's peer ({id, session}).
  async receive(peer, message) {
    this.setup ??= await loadSetup(this.root).catch(() => null);
    if (!this.setup?.assets) {
      this.setup = null;
      if (message.type === "measure-request" && typeof message.id === "string") {
        peer.session.sendData({ type: "measure-state", id: message.id.slice(0, 16), state: "unavailable" });
      }
      return;
    }
    const { definitions } = this.setup;
    if (!validMeasureMessage(message, definitions)) return;
    if (message.type === "measure-request") this.ask(peer, message, definitions);
    else if (message.type === "measure-stop" && this.current?.id === message.id) this.end("stopped", { told: false });
  }

  ask(peer, { id, measurement, side, exercise }, definitions) {
    if (this.current) this.end("stopped");
    const def = definitions.measurements[measurement];
    this.current = { id, measurement, side, exercise, peerId: peer.id, peer: peer.session, def, session: null, startedAt: 0, lastSent: 0 };
    $("measure-asked").textContent = labelOf(this.words, measurement, side === "auto" ? null : side);
    $("measure-about").textContent = `${this.words.words.call_consent} ${this.words.words.stop_any_time}`;
    $("measure-notes").replaceChildren(...consentNotes(this.words, definitions, measurement, exercise)
      .map((text) => el("p", { className: "muted", textContent: text })));
    $("measure-consent").hidden = false;
    $("measure-live").hidden = true;
    $("measure").hidden = false;
    this.send({ type: "measure-state", id, state: "asking" });
    // The sheet is announced, not focused on its button: a key she was typing (in the chat)
    // must not answer it.
    announce($("measure-title").textContent);
  }

  async allow() {
    const current = this.current;
    if (!current || current.session) return;
    const video = $("local-video");
    $("measure-consent").hidden = true;
    $("measure-live").hidden = false;
    $("measure-hint").textContent = this.words.words.loading;
    $("measure-own-label").textContent = labelOf(this.words, current.measurement, null);
    $("measure-own-error").textContent = errorLabel(this.words, current.def);
    this.send({ type: "measure-state", id: current.id, state: "loading" });
    const session = new PoseSession({ video, setup: this.setup, measurement: current.measurement, side: current.side, exercise: current.exercise });
    current.session = session;
    session.addEventListener("update", ({ detail }) => this.show(current, detail));
    session.addEventListener("failed", () => this.unavailable(current));
    try {
      if (!video.srcObject || !video.videoWidth) throw new Error("no camera");
      await session.start();
    } catch (err) {
      console.warn("measuring:", err.message);
      this.unavailable(current);
      return;
    }
    if (this.current !== current) { session.stop(); return; }
    current.startedAt = performance.now();
    this.send({ type: "measure-state", id: current.id, state: "measuring" });
  }

  // The model cannot run here (or stopped working): she is told, and so is her therapist.
  unavailable(current) {
    if (this.current !== current) return;
    this.send({ type: "measure-state", id: current.id, state: "unavailable" });
    $("measure-hint").textContent = this.words.words.unavailable;
    this.stopSession();
  }

  show(current, result) {
    if (this.current !== current) return;
    const hint = result.hint ? this.words.hints[result.hint] : "";
    if ($("measure-hint").textContent !== hint) $("measure-hint").textContent = hint;
    $("measure-own-value").textContent = formatValue(this.words, current.def, result.value);
    $("measure-own-reps").textContent = String(result.reps);
    const now = performance.now();
    if (now - current.lastSent < SAMPLE_MS) return;
    current.lastSent = now;
    this.sample(current, result);
  }

  sample(current, result) {
    // A measurement forgotten running ends at the longest a result may last.
    if (performance.now() - current.startedAt >= this.setup.definitions.limits.seconds * 1000) {
      queueMicrotask(() => this.current === current && this.end("stopped"));
    }
    this.send({
      type: "measure-sample", id: current.id, t: Math.min(this.setup.definitions.limits.seconds * 1000, Math.round(performance.now() - current.startedAt)),
      status: result.status, hint: result.hint, side: result.side,
      value: wireValue(result.value, current.def), peak: wireValue(result.peak, current.def), reps: Math.min(this.setup.definitions.limits.reps, result.reps),
    });
  }

  send(message) { this.current?.peer.sendData(message); }

  stopSession() {
    this.current?.session?.stop();
  }

  // She declined or stopped, or the therapist stopped (told: false: she knows already).
  end(state, { told = true } = {}) {
    const current = this.current;
    if (!current) return;
    if (current.session?.measurer && current.startedAt) {
      const last = current.session.measurer.report("measuring", null);
      this.sample(current, last);
    }
    this.stopSession();
    if (told) this.send({ type: "measure-state", id: current.id, state });
    this.current = null;
    $("measure").hidden = true;
    announce(this.words.words[state === "declined" ? "declined" : "stopped"]);
  }

  // The call ended or the therapist's connection went: measuring stops with it.
  peerGone(id) {
    if (this.current?.peerId === id) this.end("stopped", { told: false });
  }
}
