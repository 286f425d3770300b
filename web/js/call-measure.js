// The therapist's side of measuring in the call: she asks for a measurement (from an
// exercise of the library panel or the measure list); the patient's phone asks the patient,
// measures on its own camera and sends numbers only; this panel shows what it is doing, the
// live value, the best, the repetitions and a trace of the last 30 seconds, stops it, and
// saves the result to the patient's record (POST /visits/{id}/measurements).

import { t } from "./i18n.js";
import { newMeasureId, validMeasureMessage } from "./measure/measure-messages.js";
import { loadSetup } from "./measure/measure-setup.js";
import { errorLabel, formatValue, labelOf } from "./measure/measure-words.js";
import { useStylesheet } from "./measure/stylesheet.js";

const TRACE_SECONDS = 30;

export class MeasurePanel {
  constructor({ root, panel, call, visitId }) {
    this.call = call;
    this.panel = panel;
    this.visitId = visitId;
    this.root = root;
    this.assets = null;
    this.words = null;
    this.definitions = null;
    useStylesheet("measure.css");
    this.current = null;
    this.$ = (id) => panel.querySelector(`#${id}`);
    this.$("measure-stop").addEventListener("click", () => this.stop());
    this.$("measure-close").addEventListener("click", () => this.close());
    this.$("measure-save").addEventListener("click", () => this.save());
    this.$("measure-again").addEventListener("click", () => this.current && this.start(this.current.measurement, { exercise: this.current.exercise, side: this.current.askedSide }));
  }

  // What measuring needs; `available` once the server has the pose model.
  async load() {
    ({ assets: this.assets, definitions: this.definitions, words: this.words } = await loadSetup(this.root));
  }

  get available() { return !!this.assets && !!this.definitions; }

  // The measurement that counts an exercise of the library, if any.
  measurementFor(exercise) {
    return this.definitions?.exercises[exercise]?.measurement || null;
  }

  patientPeer() {
    const found = [...this.call.peers].find(([, peer]) => peer.role === "patient");
    return found ? { id: found[0], ...found[1] } : null;
  }

  // Ask the patient's phone to measure; one measurement at a time.
  start(measurement, { exercise = null, side = "auto" } = {}) {
    if (!this.definitions) return;
    if (this.current?.live) this.stop();
    const peer = this.patientPeer();
    const def = this.definitions.measurements[measurement];
    if (!def.sided) side = "auto";
    this.current = {
      id: newMeasureId(), measurement, def, exercise, askedSide: side, peerId: peer?.id, session: peer?.session, live: !!peer,
      samples: [], last: null, state: peer ? "asking" : "absent", saved: false,
    };
    this.panel.hidden = false;
    this.$("measure-what").textContent = labelOf(this.words, measurement, side === "auto" ? null : side, def);
    this.$("measure-error").textContent = errorLabel(this.words, def, { staff: true });
    const own = exercise && this.definitions.exercises[exercise];
    this.current.count = own?.measurement === measurement && own.count ? own.count : def.count;
    this.$("measure-saved").textContent = "";
    this.render();
    peer?.session.sendData({ type: "measure-request", id: this.current.id, measurement, side, exercise });
    this.panel.scrollIntoView({ block: "nearest" });
  }

  // A measurement message from a peer: only the patient's, about the measurement asked for.
  receive(peer, message) {
    const current = this.current;
    if (!current || peer.role !== "patient" || peer.id !== current.peerId || peer.session !== current.session) return;
    if (!validMeasureMessage(message, this.definitions, (id) => (id === current.id ? current.measurement : null))) return;
    if (message.id !== current.id || message.type === "measure-request" || message.type === "measure-stop") return;
    if (message.type === "measure-state") {
      current.state = message.state;
      if (["declined", "stopped", "unavailable"].includes(message.state)) current.live = false;
    } else {
      current.last = message;
      if (current.state !== "measuring" && current.live) current.state = "measuring";
      if (message.value !== null) current.samples.push([message.t / 1000, message.value]);
      // At most five a second for up to an hour: thinned by half past a few thousand.
      if (current.samples.length > 4000) current.samples = current.samples.filter((_, i) => i % 2 === 0);
    }
    this.render();
  }

  stop() {
    const current = this.current;
    if (!current?.live) return;
    current.session.sendData({ type: "measure-stop", id: current.id });
    current.live = false;
    current.state = "stopped";
    this.render();
  }

  close() {
    this.stop();
    this.current = null;
    this.panel.hidden = true;
  }

  // The patient's connection went: what was measured stays, nothing more comes.
  peerGone(id) {
    if (this.current?.live && this.current.peerId === id) {
      this.current.live = false;
      this.current.state = "stopped";
      this.render();
    }
  }

  statusText() {
    const { state, last } = this.current;
    const TEXT = {
      absent: t("Your patient is not in the call."),
      asking: t("Asking your patient to allow measuring…"),
      declined: t("Your patient chose not to measure now."),
      loading: t("Starting on your patient’s phone…"),
      unavailable: t("Measuring does not work on your patient’s device."),
      stopped: t("Stopped."),
    };
    if (state === "measuring") {
      if (last?.status === "framing") return t("Placing the phone: {hint}", { hint: this.words.hints[last.hint || "hold_still"] });
      return last?.hint ? t("Measuring; the joints are out of the picture for now.") : t("Measuring.");
    }
    return TEXT[state] || "";
  }

  render() {
    const current = this.current;
    if (!current) return; // closed while a save was under way
    const { def, last } = current;
    this.$("measure-status").textContent = this.statusText();
    this.$("measure-value").textContent = formatValue(this.words, def, current.live ? last?.value ?? null : null);
    this.$("measure-peak").textContent = formatValue(this.words, def, last?.peak ?? null);
    this.$("measure-reps").textContent = String(last?.reps ?? 0);
    this.$("measure-stop").hidden = !current.live;
    this.$("measure-close").hidden = current.live;
    this.$("measure-again").hidden = current.live;
    this.$("measure-save").hidden = current.live || current.saved || last?.peak === null || last?.peak === undefined;
    this.$("measure-save").disabled = !!current.saving;
    this.drawTrace();
  }

  // The last 30 seconds, with the two thresholds a repetition crosses (why one counted or not).
  drawTrace() {
    const { def, samples, count } = this.current;
    const end = samples.length ? samples[samples.length - 1][0] : 0;
    const [low, high] = def.range;
    const y = (value) => (60 - ((value - low) / (high - low)) * 60).toFixed(1);
    const points = samples.filter(([time]) => time >= end - TRACE_SECONDS)
      .map(([time, value]) => `${(300 - ((end - time) / TRACE_SECONDS) * 300).toFixed(1)},${y(value)}`);
    const trace = this.$("measure-trace");
    trace.querySelector("polyline").setAttribute("points", points.join(" "));
    for (const [name, value] of [["rest", count.rest], ["peak", count.peak]]) {
      const line = trace.querySelector(`.measure-threshold-${name}`);
      line.setAttribute("y1", y(value));
      line.setAttribute("y2", y(value));
    }
  }

  async save() {
    const current = this.current;
    const last = current?.last;
    if (!last || last.peak === null || current.saving || current.saved) return;
    current.saving = true;
    this.render();
    const points = this.definitions.limits.trace_points;
    const step = Math.max(1, Math.ceil(current.samples.length / points));
    const trace = current.samples.filter((_, i) => i % step === 0).slice(0, points)
      .map(([time, value]) => [Math.round(time * 10) / 10, value]);
    const body = {
      measurement: current.measurement, side: current.def.sided ? last.side : null, peak: last.peak,
      reps: last.reps, seconds: Math.round(last.t / 100) / 10, trace,
    };
    if (current.exercise) body.exercise = current.exercise;
    const response = await fetch(`/visits/${this.visitId}/measurements`, {
      method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" }, body: JSON.stringify(body),
    }).catch(() => null);
    current.saving = false;
    if (response?.ok) {
      current.saved = true;
      this.$("measure-saved").textContent = t("Saved to the patient’s record.");
    } else {
      const problem = await response?.json().catch(() => ({}));
      this.$("measure-saved").textContent = problem?.error?.message || t("Could not save.");
    }
    this.render();
  }
}
