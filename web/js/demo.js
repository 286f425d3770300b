// Exercise demos: a figure moved between named poses, seen from the view each step needs.
// An exercise is data only (keyframes naming poses, a view, props); this module plays any of
// them. With prefers-reduced-motion the figure shows each pose as a still step.
import { blend, complete, frameBox, scene } from "./demo-figure.js";
import { Voice } from "./demo-voice.js";
import { t } from "./i18n.js";

const SVG = "http://www.w3.org/2000/svg";
const ease = (t) => (t < 0.5 ? 2 * t * t : 1 - (-2 * t + 2) ** 2 / 2);
export const SPEEDS = [1, 0.5];

// Players whose animation loop runs now (one per visible demo; a test counts them).
const running = new Set();
export const runningLoops = () => running.size;

// One still drawing of a pose: an <svg> string for a view.
export function still(exercise, frame, { mirror = false } = {}) {
  const view = frame.view || exercise.view;
  const s = scene(complete(exercise.poses[frame.pose]), exercise.figure, { view, props: exercise.props, highlight: frame.highlight });
  return svgOf(frameBox([s.box], view), s, mirror, "");
}

function svgOf(box, s, mirror, label) {
  const flip = mirror ? ` transform="translate(${2 * box[0] + box[2]} 0) scale(-1 1)"` : "";
  return `<svg xmlns="${SVG}" viewBox="${box.join(" ")}" class="demo-figure"${label}>${s.floor}<g${flip} class="demo-scene">${s.behind}<g class="demo-body">${s.body}</g>${s.front}<g class="demo-glow">${s.glow}</g></g></svg>`;
}

export class DemoPlayer extends EventTarget {
  constructor(container, { poses, exercise, reducedMotion = matchMedia("(prefers-reduced-motion: reduce)").matches }) {
    super();
    this.container = container;
    this.exercise = exercise;
    this.poses = Object.fromEntries(Object.entries(poses).map(([k, v]) => [k, complete(v)]));
    this.frames = exercise.demo;
    this.reducedMotion = reducedMotion;
    this.loop = true;
    this.playing = false;
    this.frame = 0;
    this.rep = 1;
    this.speed = 1;
    this.mirror = false;
    this.phaseStart = 0;
    this.raf = null;
    // Listeners on the panel's controls live as long as this player (see mountDemo).
    this.listeners = new AbortController();
    // One window per view, fitted around every keyframe seen from it, so the figure never jumps.
    const boxes = {};
    for (const f of this.frames) (boxes[this.viewOf(f)] ??= []).push(this.sceneOf(this.poses[f.pose], f).box);
    this.boxes = Object.fromEntries(Object.entries(boxes).map(([v, list]) => [v, frameBox(list, v)]));
    this.goTo(0, { playing: false });
  }

  viewOf(f) { return f.view || this.exercise.view || "side"; }

  sceneOf(pose, f) { return scene(pose, this.exercise.figure, { view: this.viewOf(f), props: this.exercise.props, highlight: f.highlight }); }

  draw(pose, f) {
    const view = this.viewOf(f);
    this.container.innerHTML = svgOf(this.boxes[view], this.sceneOf(pose, f), this.mirror, ' role="img"');
    // Text goes in as an attribute, never as markup: a translation cannot add markup.
    this.container.firstElementChild.setAttribute("aria-label", viewLabel(view));
    this.container.dataset.view = view;
  }

  // Where the demo is: {frame, step, playing, rep, holdLeft, speed, mirror, view}.
  get status() {
    const f = this.frames[this.frame];
    return { frame: this.frame, step: f.step, playing: this.playing, rep: this.rep, holdLeft: this.holdLeft ?? 0,
      speed: this.speed, mirror: this.mirror, view: this.viewOf(f) };
  }

  report() {
    const s = this.status;
    this.container.dataset.step = String(s.step);
    this.container.dataset.playing = String(s.playing);
    this.dispatchEvent(new CustomEvent("change", { detail: s }));
  }

  play() {
    if (this.playing) return;
    this.playing = true;
    running.add(this);
    cancelAnimationFrame(this.raf);
    this.phaseStart = performance.now();
    this.tick();
    this.report();
  }

  pause() {
    this.playing = false;
    running.delete(this);
    cancelAnimationFrame(this.raf);
    this.report();
  }

  // Show the next keyframe and stop there.
  step() {
    this.pause();
    this.goTo((this.frame + 1) % this.frames.length);
  }

  setSpeed(speed) {
    if (!SPEEDS.includes(speed) || speed === this.speed) return;
    // Keep the place in the current movement when the clock changes pace.
    const now = performance.now();
    this.phaseStart = now - ((now - this.phaseStart) * this.speed) / speed;
    this.speed = speed;
    this.report();
  }

  setMirror(on) {
    this.mirror = Boolean(on);
    const f = this.frames[this.frame];
    this.draw(this.poses[f.pose], f);
    this.drawnStill = false;
    this.report();
  }

  goTo(index, { playing = this.playing } = {}) {
    if (index === 0 && this.frame === this.frames.length - 1) this.rep = (this.rep % this.exercise.dosage.reps) + 1;
    this.frame = Math.max(0, Math.min(this.frames.length - 1, index));
    const f = this.frames[this.frame];
    this.draw(this.poses[f.pose], f);
    this.holdLeft = 0;
    this.drawnStill = false;
    if (playing) { this.playing = false; this.play(); } else this.report();
  }

  // Follow another player's state (the patient follows the therapist).
  apply({ frame, playing, speed }) {
    if (speed) this.setSpeed(speed);
    if (frame === this.frame && playing === this.playing) return;
    this.pause();
    this.goTo(frame, { playing });
  }

  tick() {
    const f = this.frames[this.frame];
    const prev = this.frames[(this.frame - 1 + this.frames.length) % this.frames.length];
    const elapsed = (performance.now() - this.phaseStart) / 1000;
    // Speed slows the movement; a hold stays as many real seconds as the exercise says.
    const moving = this.reducedMotion ? 0 : f.seconds / this.speed;
    if (elapsed < moving) {
      const from = this.viewOf(prev) === this.viewOf(f) ? this.poses[prev.pose] : this.poses[f.pose];
      this.draw(blend(from, this.poses[f.pose], ease(elapsed / moving)), f);
    } else {
      if (!this.drawnStill) this.draw(this.poses[f.pose], f);
      this.drawnStill = true;
      const held = elapsed - moving;
      const holdFor = Math.max(f.hold, this.reducedMotion ? f.seconds : 0);
      const left = Math.ceil(f.hold - held);
      if (left !== this.holdLeft && f.hold) { this.holdLeft = Math.max(0, left); this.report(); }
      if (held >= holdFor) {
        let next = this.frame + 1;
        if (next >= this.frames.length) {
          next = 0;
          if (this.rep >= this.exercise.dosage.reps) {
            this.rep = 1;
            if (!this.loop) { this.goTo(0, { playing: false }); return; }
          } else {
            this.rep += 1;
          }
        }
        this.frame = next;
        this.holdLeft = 0;
        this.drawnStill = false;
        this.phaseStart = performance.now();
        this.report();
      }
    }
    if (this.playing) this.raf = requestAnimationFrame(() => this.tick());
  }

  destroy() {
    this.pause();
    this.listeners.abort();
    this.container.replaceChildren();
  }
}

// The words a description sees a view from, and the figure's label made of them.
const viewLabel = (view) => t("Figure seen {view}", { view: viewWords(view) });
const viewWords = (view) => ({ side: t("from the side"), front: t("from the front"), above: t("from above"),
  three_quarter: t("from the side and above, at an angle") })[view] ?? view;

// The figure's props (server/library/figure.toml) as words.
const propWords = () => ({ mat: t("mat"), chair: t("chair"), table: t("table"), counter: t("counter"),
  wall: t("wall"), step: t("step"), rail: t("rail"), pillow: t("pillow"), ball: t("ball"),
  footstool: t("footstool"), toilet: t("toilet"), bed: t("bed"), pillows: t("pillows"), towel: t("towel"),
  band: t("band"), knee_band: t("knee band"), baby: t("baby"), cushion: t("cushion"), pram: t("pram"),
  basket: t("basket"), car_seat: t("car seat"), knee_pillow: t("knee pillow") });

// What the demo shows, in words, for screen readers (and anyone who prefers reading).
export function describe(exercise) {
  const views = [...new Set([exercise.view, ...exercise.demo.map((f) => f.view).filter(Boolean)])];
  const props = exercise.props.map((p) => propWords()[p.name] ?? p.name.replace("_", " "));
  const figure = { name: exercise.name, views: views.map(viewWords).join(" " + t("and") + " "), props: props.join(", ") };
  return (props.length ? t("Drawn figure demonstrating {name}, seen {views} with {props}.", figure)
    : t("Drawn figure demonstrating {name}, seen {views}.", figure))
    + " " + t("Starting position: {position}", { position: exercise.position }) + " "
    + exercise.steps.map((s, i) => t("Step {n}: {text}", { n: i + 1, text: s })).join(" ");
}

// Fill a demo panel: figure, step text, counter, description, still steps and controls.
export function mountDemo(panel, { poses, exercise, onControl }) {
  const figure = panel.querySelector(".demo-stage");
  const stepText = panel.querySelector(".demo-step");
  const counter = panel.querySelector(".demo-counter");
  const player = new DemoPlayer(figure, { poses, exercise });
  panel.dataset.exercise = exercise.slug;
  const $ = (name) => panel.querySelector(`[data-demo=${name}]`);
  const description = panel.querySelector(".demo-description");
  if (description) description.textContent = describe(exercise);
  const stills = panel.querySelector(".demo-stills");
  if (stills) {
    // One still per step (its last keyframe), with the step's words: the demo without motion.
    const last = new Map(exercise.demo.map((f) => [f.step, f]));
    stills.innerHTML = [...last.entries()].sort((a, b) => a[0] - b[0])
      .map(([n, f]) => `<li>${still(exercise, f)}<p></p></li>`).join("");
    [...last.keys()].sort((a, b) => a - b).forEach((n, i) => { stills.children[i].querySelector("p").textContent = `${n}. ${exercise.steps[n - 1]}`; });
  }
  const voice = new Voice(exercise);
  let last = {};
  const show = (s) => {
    panel.dataset.step = String(s.step);
    panel.dataset.playing = String(s.playing);
    panel.dataset.speed = String(s.speed);
    panel.dataset.mirror = String(s.mirror);
    panel.dataset.view = s.view;
    stepText.textContent = t("Step {n} of {count}: {text}", { n: s.step, count: exercise.steps.length, text: exercise.steps[s.step - 1] });
    const rep = { n: s.rep, count: exercise.dosage.reps, s: s.holdLeft };
    counter.textContent = s.holdLeft ? t("Rep {n} of {count} · hold {s} s", rep) : t("Rep {n} of {count}", rep);
    const play = $("play");
    if (play) { play.textContent = s.playing ? t("Pause") : t("Play"); play.setAttribute("aria-pressed", String(s.playing)); }
    const speed = $("speed");
    if (speed) speed.textContent = s.speed === 1 ? t("Speed 1×") : t("Speed 0.5×");
    $("mirror")?.setAttribute("aria-pressed", String(s.mirror));
    voice.follow(last, s);
    last = s;
  };
  player.addEventListener("change", (e) => show(e.detail));
  show(player.status);
  // The buttons outlive the player (the next demo reuses them): its listeners go with it.
  const { signal } = player.listeners;
  signal.addEventListener("abort", () => voice.stop());
  $("play")?.addEventListener("click", () => {
    if (player.playing) player.pause(); else player.play();
    onControl?.(player.playing ? "play" : "pause", player.status);
  }, { signal });
  $("step")?.addEventListener("click", () => {
    player.step();
    onControl?.("step", player.status);
  }, { signal });
  $("speed")?.addEventListener("click", () => {
    player.setSpeed(player.speed === 1 ? 0.5 : 1);
    onControl?.(player.playing ? "play" : "pause", player.status);
  }, { signal });
  $("mirror")?.addEventListener("click", () => player.setMirror(!player.mirror), { signal });
  const voiceButton = $("voice");
  if (voiceButton) {
    const label = () => { voiceButton.setAttribute("aria-pressed", String(voice.on)); voiceButton.textContent = voice.on ? t("Voice on") : t("Voice off"); };
    voiceButton.hidden = !voice.available;
    label();
    voiceButton.addEventListener("click", () => { voice.toggle(player.status); label(); }, { signal });
  }
  return player;
}
