// Spoken cues for a demo, opt-in: the browser's own speech (speechSynthesis), so nothing
// leaves the device. Reads each step as it starts, the rep number, and counts holds down.
import { t } from "./i18n.js";

const KEY = "visitroom-demo-voice";

export class Voice {
  constructor(exercise) {
    this.exercise = exercise;
    this.synth = globalThis.speechSynthesis;
    this.available = Boolean(this.synth && globalThis.SpeechSynthesisUtterance);
    this.on = this.available && localStorage.getItem(KEY) === "on";
  }

  say(text, { interrupt = false } = {}) {
    if (!this.on) return;
    if (interrupt) this.synth.cancel();
    const utterance = new SpeechSynthesisUtterance(text);
    // The exercise's own language: an entry not yet translated is read in an English voice.
    utterance.lang = this.exercise.language || document.documentElement.lang || "en";
    utterance.rate = 0.95;
    this.synth.speak(utterance);
  }

  toggle(status) {
    this.on = this.available && !this.on;
    localStorage.setItem(KEY, this.on ? "on" : "off");
    if (this.on) this.read(status); else this.synth?.cancel();
  }

  read(s, prefix = "") {
    const steps = this.exercise.steps;
    this.say(prefix + t("Step {n} of {count}. {text}", { n: s.step, count: steps.length, text: steps[s.step - 1] }), { interrupt: true });
  }

  // Speak what changed between two statuses of the player.
  follow(before, now) {
    if (!this.on || !before.step) return;
    if (now.step !== before.step || now.rep !== before.rep) {
      this.read(now, now.rep !== before.rep ? t("Rep {n} of {count}.", { n: now.rep, count: this.exercise.dosage.reps }) + " " : "");
    } else if (now.holdLeft && now.holdLeft !== before.holdLeft) {
      this.say(now.holdLeft === 1 ? t("1. Relax.") : String(now.holdLeft));
    }
  }

  stop() { if (this.on) this.synth.cancel(); }
}
