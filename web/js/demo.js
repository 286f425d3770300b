// Exercise demos: an articulated SVG figure moved between named poses.
// An exercise is data only (keyframes naming poses); this module draws any of them.
// With prefers-reduced-motion the figure shows each pose as a still step.

const SVG = "http://www.w3.org/2000/svg";
const LENGTHS = { trunk: [25, 25], arm: [26, 24], leg: [34, 34], head: 12 };
const HIGHLIGHT_AT = {
  pelvic_floor: (j) => j.hip, glutes: (j) => j.hip, abdomen: (j) => mid(j.hip, j.mid),
  back: (j) => j.mid, inner_thighs: (j) => j.knee, chest: (j) => mid(j.mid, j.neck),
  neck: (j) => j.neck, wrist: (j) => j.hand,
};

const rad = (deg) => (deg * Math.PI) / 180;
const mid = (a, b) => [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2];
const from = (p, deg, len) => [p[0] + len * Math.cos(rad(deg)), p[1] + len * Math.sin(rad(deg))];
const ease = (t) => (t < 0.5 ? 2 * t * t : 1 - (-2 * t + 2) ** 2 / 2);

// Interpolate two poses; angles take the short way round.
export function blend(a, b, t) {
  const angle = (x, y) => { let d = ((y - x + 540) % 360) - 180; return x + d * t; };
  const out = { hip: [a.hip[0] + (b.hip[0] - a.hip[0]) * t, a.hip[1] + (b.hip[1] - a.hip[1]) * t], head: angle(a.head, b.head) };
  for (const key of ["trunk", "arm", "far_arm", "leg", "far_leg"]) out[key] = [angle(a[key][0], b[key][0]), angle(a[key][1], b[key][1])];
  return out;
}

// Joint positions of a pose.
export function joints(pose) {
  const hip = pose.hip;
  const midBack = from(hip, pose.trunk[0], LENGTHS.trunk[0]);
  const neck = from(midBack, pose.trunk[1], LENGTHS.trunk[1]);
  const limb = (start, [a, b], [l1, l2]) => { const j = from(start, a, l1); return [start, j, from(j, b, l2)]; };
  const arm = limb(neck, pose.arm, LENGTHS.arm);
  const leg = limb(hip, pose.leg, LENGTHS.leg);
  return {
    hip, mid: midBack, neck, head: from(neck, pose.head, LENGTHS.head),
    arm, farArm: limb(neck, pose.far_arm, LENGTHS.arm), leg, farLeg: limb(hip, pose.far_leg, LENGTHS.leg),
    knee: leg[1], hand: arm[2],
  };
}

const points = (list) => list.map((p) => `${p[0].toFixed(1)},${p[1].toFixed(1)}`).join(" ");

function el(name, attrs, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  parent?.append(node);
  return node;
}

// Players whose animation loop runs now (one per visible demo; a test counts them).
const running = new Set();
export const runningLoops = () => running.size;

export class DemoPlayer extends EventTarget {
  constructor(container, { poses, exercise, reducedMotion = matchMedia("(prefers-reduced-motion: reduce)").matches }) {
    super();
    this.container = container;
    this.poses = poses;
    this.exercise = exercise;
    this.frames = exercise.demo;
    this.reducedMotion = reducedMotion;
    this.loop = true;
    this.playing = false;
    this.frame = 0;
    this.rep = 1;
    this.phaseStart = 0;
    this.raf = null;
    // Listeners on the panel's controls live as long as this player (see mountDemo).
    this.listeners = new AbortController();
    this.build();
    this.draw(this.poses[this.frames[0].pose], this.frames[0].highlight);
    this.report();
  }

  build() {
    this.container.replaceChildren();
    const svg = el("svg", { viewBox: "0 0 240 160", role: "img", "aria-label": `Demonstration: ${this.exercise.name}`, class: "demo-figure" }, this.container);
    el("line", { x1: 0, y1: 151, x2: 240, y2: 151, class: "demo-floor" }, svg);
    this.glow = el("circle", { r: 11, class: "demo-highlight", opacity: 0 }, svg);
    this.farArm = el("polyline", { class: "demo-limb demo-far" }, svg);
    this.farLeg = el("polyline", { class: "demo-limb demo-far" }, svg);
    this.trunk = el("polyline", { class: "demo-limb demo-trunk" }, svg);
    this.head = el("circle", { r: 9, class: "demo-head" }, svg);
    this.leg = el("polyline", { class: "demo-limb" }, svg);
    this.arm = el("polyline", { class: "demo-limb" }, svg);
  }

  draw(pose, highlight) {
    const j = joints(pose);
    this.trunk.setAttribute("points", points([j.hip, j.mid, j.neck]));
    this.head.setAttribute("cx", j.head[0]);
    this.head.setAttribute("cy", j.head[1]);
    this.arm.setAttribute("points", points(j.arm));
    this.farArm.setAttribute("points", points(j.farArm));
    this.leg.setAttribute("points", points(j.leg));
    this.farLeg.setAttribute("points", points(j.farLeg));
    const at = HIGHLIGHT_AT[highlight];
    this.glow.setAttribute("opacity", at ? 0.55 : 0);
    if (at) { const p = at(j); this.glow.setAttribute("cx", p[0]); this.glow.setAttribute("cy", p[1]); }
  }

  // Where the demo is: {frame, step, playing, rep, holdLeft}.
  get status() {
    const f = this.frames[this.frame];
    return { frame: this.frame, step: f.step, playing: this.playing, rep: this.rep, holdLeft: this.holdLeft ?? 0 };
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

  goTo(index, { playing = this.playing } = {}) {
    if (index === 0 && this.frame === this.frames.length - 1) this.rep = (this.rep % this.exercise.dosage.reps) + 1;
    this.frame = Math.max(0, Math.min(this.frames.length - 1, index));
    const f = this.frames[this.frame];
    this.draw(this.poses[f.pose], f.highlight);
    this.holdLeft = 0;
    if (playing) { this.playing = false; this.play(); } else this.report();
  }

  // Follow another player's state (the patient follows the therapist).
  apply({ frame, playing }) {
    this.pause();
    this.goTo(frame, { playing });
  }

  tick() {
    const f = this.frames[this.frame];
    const prev = this.frames[(this.frame - 1 + this.frames.length) % this.frames.length];
    const elapsed = (performance.now() - this.phaseStart) / 1000;
    const moving = this.reducedMotion ? 0 : f.seconds;
    if (elapsed < moving) {
      this.draw(blend(this.poses[prev.pose], this.poses[f.pose], ease(elapsed / moving)), f.highlight);
    } else {
      this.draw(this.poses[f.pose], f.highlight);
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

// Fill a demo panel: figure, step text, rep/hold counter and controls.
export function mountDemo(panel, { poses, exercise, onControl }) {
  const figure = panel.querySelector(".demo-stage");
  const stepText = panel.querySelector(".demo-step");
  const counter = panel.querySelector(".demo-counter");
  const player = new DemoPlayer(figure, { poses, exercise });
  panel.dataset.exercise = exercise.slug;
  const show = (s) => {
    panel.dataset.step = String(s.step);
    panel.dataset.playing = String(s.playing);
    stepText.textContent = `Step ${s.step} of ${exercise.steps.length}: ${exercise.steps[s.step - 1]}`;
    counter.textContent = `Rep ${s.rep} of ${exercise.dosage.reps}` + (s.holdLeft ? ` · hold ${s.holdLeft} s` : "");
    const play = panel.querySelector("[data-demo=play]");
    if (play) { play.textContent = s.playing ? "Pause" : "Play"; play.setAttribute("aria-pressed", String(s.playing)); }
  };
  player.addEventListener("change", (e) => show(e.detail));
  show(player.status);
  // The buttons outlive the player (the next demo reuses them): its listeners go with it.
  const { signal } = player.listeners;
  panel.querySelector("[data-demo=play]")?.addEventListener("click", () => {
    if (player.playing) player.pause(); else player.play();
    onControl?.(player.playing ? "play" : "pause", player.status);
  }, { signal });
  panel.querySelector("[data-demo=step]")?.addEventListener("click", () => {
    player.step();
    onControl?.("step", player.status);
  }, { signal });
  return player;
}
