// Exercise demos inside the call: the therapist shows and drives one, the patient follows.
import { mountDemo } from "./demo.js";

export class CallDemo {
  constructor({ role, send, area }) {
    this.role = role;
    this.send = send;
    this.area = area;
    this.panel = area.querySelector("[data-testid=demo-view]");
    this.player = null;
    this.slug = null;
    area.querySelector("#demo-minimise").addEventListener("click", () => this.toggleMinimised());
    area.querySelector("#demo-hide")?.addEventListener("click", () => {
      this.hide();
      this.send({ type: "demo-control", action: "hide" });
    });
  }

  async show(slug) {
    const response = await fetch(`/api/library/exercises/${slug}`, { headers: { Accept: "application/json" } });
    if (!response.ok) return false;
    const exercise = await response.json();
    this.player?.destroy();
    this.slug = slug;
    this.area.querySelector("#demo-title").textContent = exercise.name;
    const onControl = this.role === "therapist"
      ? (action, status) => this.send({ type: "demo-control", action, frame: status.frame, playing: status.playing, speed: status.speed })
      : null;
    this.player = mountDemo(this.panel, { poses: exercise.poses, exercise, onControl });
    this.area.hidden = false;
    this.area.classList.remove("minimised");
    return true;
  }

  // A demo-control message from the therapist.
  control({ action, frame = 0, playing = false, speed }) {
    if (action === "hide") { this.hide(); return; }
    this.player?.apply({ frame, playing, speed });
  }

  toggleMinimised() {
    const minimised = this.area.classList.toggle("minimised");
    const button = this.area.querySelector("#demo-minimise");
    button.textContent = minimised ? "Show exercise" : "Minimise";
    button.setAttribute("aria-expanded", String(!minimised));
  }

  hide() {
    this.player?.destroy();
    this.player = null;
    this.slug = null;
    this.panel.dataset.exercise = "";
    this.area.hidden = true;
  }
}
