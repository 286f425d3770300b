// Exercise demos inside the call: the therapist shows and drives one, the patient follows.
// The renderer (demo.js, a third of the page's code) is not in the page's first load: it
// loads once the call is under way (preload) or with the first demo shown. A show() that a
// later show() or hide() overtook drops its result; the therapist's last control that came
// while it loaded is applied once it is mounted.
import { t } from "./i18n.js";

export class CallDemo {
  constructor({ role, send, area }) {
    this.role = role;
    this.send = send;
    this.area = area;
    this.panel = area.querySelector("[data-testid=demo-view]");
    this.player = null;
    this.slug = null;
    this.renderer = null; // demo.js, once loaded
    this.loading = null; // its import, while it loads or once it did
    this.latest = 0; // the number of the last show() or hide(): an earlier show() drops its result
    this.shown = 0; // the number of the last one that finished
    this.pending = null; // the last demo-control that came while a demo was being shown
    area.querySelector("#demo-minimise").addEventListener("click", () => this.toggleMinimised());
    area.querySelector("#demo-hide")?.addEventListener("click", () => {
      this.hide();
      this.send({ type: "demo-control", action: "hide" });
    });
  }

  // Start loading the renderer, so the first demo has not to wait for it.
  preload() {
    this.load().catch((err) => console.warn("demo renderer:", err));
  }

  load() {
    if (!this.loading) {
      this.loading = import("./demo.js");
      this.loading.catch(() => { this.loading = null; }); // the next demo tries again
    }
    return this.loading;
  }

  async show(slug) {
    const mine = ++this.latest;
    this.pending = null;
    let exercise;
    try {
      const [response, renderer] = await Promise.all([
        // In the page's language (her choice or her record's), whatever her browser asks for.
        fetch(`/api/library/exercises/${slug}`, { headers: {
          Accept: "application/json", "Accept-Language": document.documentElement.lang } }), this.load()]);
      this.renderer = renderer;
      exercise = response.ok ? await response.json() : null;
    } catch (err) {
      console.warn("demo:", err);
    }
    if (mine !== this.latest) return false; // hidden, or another demo shown, meanwhile
    this.shown = mine;
    if (!exercise) {
      this.failed();
      return false;
    }
    this.player?.destroy();
    this.slug = slug;
    this.area.querySelector("#demo-title").textContent = exercise.name;
    const onControl = this.role === "therapist"
      ? (action, status) => this.send({ type: "demo-control", action, frame: status.frame, playing: status.playing, speed: status.speed })
      : null;
    this.player = this.renderer.mountDemo(this.panel, { poses: exercise.poses, exercise, onControl });
    this.area.hidden = false;
    this.area.classList.remove("minimised");
    delete this.area.dataset.failed;
    if (this.pending) this.player.apply(this.pending);
    this.pending = null;
    return true;
  }

  // The demo could not be loaded: say so where it would have been.
  failed() {
    this.player?.destroy();
    this.player = null;
    this.slug = null;
    this.panel.dataset.exercise = "";
    this.area.querySelector("#demo-title").textContent = t("Exercise");
    this.panel.querySelector(".demo-step").textContent = t("The exercise could not be shown.");
    this.area.dataset.failed = "true";
    this.area.hidden = false;
    this.pending = null;
  }

  // Players whose animation runs now (for diagnostics and tests).
  loops() { return this.renderer?.runningLoops() ?? 0; }

  // A demo-control message from the therapist.
  control({ action, frame = 0, playing = false, speed }) {
    if (action === "hide") { this.hide(); return; }
    if (this.showing()) this.pending = { frame, playing, speed };
    else this.player?.apply({ frame, playing, speed });
  }

  toggleMinimised() {
    const minimised = this.area.classList.toggle("minimised");
    const button = this.area.querySelector("#demo-minimise");
    button.textContent = minimised ? t("Show exercise") : t("Minimise");
    button.setAttribute("aria-expanded", String(!minimised));
  }

  // A show() is under way (its renderer or exercise still loading).
  showing() { return this.latest > this.shown; }

  hide() {
    this.latest += 1;
    this.shown = this.latest;
    this.pending = null;
    this.player?.destroy();
    this.player = null;
    this.slug = null;
    this.panel.dataset.exercise = "";
    this.area.hidden = true;
  }
}
