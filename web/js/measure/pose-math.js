// Joint angles, the framing check and the repetition counter, from a stream of keypoints,
// as web/measure/measurements.json defines each measurement. Pure functions and small
// classes: no DOM, no model, so they are tested exactly on keypoint streams.
//
// A frame is { t (ms), width, height, points }: points[i] = [x, y, score] in pixels of the
// camera image (y grows downwards), in the order of the definitions' `keypoints`.

const DEG = 180 / Math.PI;

// The angle at b between the segments b→a and b→c, in degrees (0 to 180); null when a
// segment has no length.
export function angleAt(a, b, c) {
  const [ux, uy, vx, vy] = [a[0] - b[0], a[1] - b[1], c[0] - b[0], c[1] - b[1]];
  const lu = Math.hypot(ux, uy);
  const lv = Math.hypot(vx, vy);
  if (lu === 0 || lv === 0) return null;
  const cos = Math.max(-1, Math.min(1, (ux * vx + uy * vy) / (lu * lv)));
  return Math.acos(cos) * DEG;
}

const mid = (p, q) => [(p[0] + q[0]) / 2, (p[1] + q[1]) / 2];
const distance = (p, q) => Math.hypot(p[0] - q[0], p[1] - q[1]);

// The keypoints a measurement needs to see, by name, for one side ("left"/"right") or both.
export function requiredPoints(measurement, side) {
  if (measurement.formula === "side_bend") return ["leftShoulder", "rightShoulder", "leftHip", "rightHip"];
  if (measurement.formula === "foot_lift") return ["leftKnee", "rightKnee", "leftAnkle", "rightAnkle"];
  return measurement.joints.map((joint) => side + joint);
}

// The angle (or rise, or lift) of one frame, before smoothing; null when it cannot be told.
// `baseline` is the ankle's resting height for `ankle_rise` (the lowest it was seen).
export function rawValue(measurement, get, side, baseline = null) {
  const [a, b, c] = measurement.joints.map((joint) => get(side + joint));
  switch (measurement.formula) {
    case "flexion": {
      const inside = angleAt(a, b, c);
      return inside === null ? null : 180 - inside;
    }
    case "angle":
      return angleAt(a, b, c);
    case "side_bend": {
      // The trunk (mid-hip → mid-shoulder) against the line square to the hips, so a tilted
      // phone does not read as a bend.
      const [ls, rs, lh, rh] = requiredPoints(measurement).map(get);
      const hips = [rh[0] - lh[0], rh[1] - lh[1]];
      const trunk = [mid(ls, rs)[0] - mid(lh, rh)[0], mid(ls, rs)[1] - mid(lh, rh)[1]];
      let up = [hips[1], -hips[0]];
      if (up[0] * trunk[0] + up[1] * trunk[1] < 0) up = [-up[0], -up[1]];
      const angle = angleAt(up, [0, 0], trunk);
      return angle;
    }
    case "ankle_rise": {
      // Knee and ankle of the side: the ankle's rise over its resting height, in percent of the shin.
      const shin = distance(a, b);
      if (!shin || baseline === null) return null;
      return Math.max(0, ((baseline - b[1]) / shin) * 100);
    }
    case "foot_lift": {
      const [lk, rk, la, ra] = requiredPoints(measurement).map(get);
      const shin = (distance(lk, la) + distance(rk, ra)) / 2;
      if (!shin) return null;
      return (Math.abs(la[1] - ra[1]) / shin) * 100;
    }
    default:
      throw new Error(`unknown formula ${measurement.formula}`);
  }
}

// Repetitions between two thresholds with hysteresis: one counts when the value has gone
// from beyond `rest` to beyond `peak` and back beyond `rest`. Works either way (peak above
// or below rest). It counts only from a rest it saw: a start mid-movement, or a track lost
// mid-repetition (reset), waits for the next rest. `holding` is true while beyond the peak.
export class RepCounter {
  constructor({ rest, peak }) {
    this.rest = rest;
    this.peak = peak;
    this.up = peak > rest;
    this.phase = "wait";
    this.reps = 0;
  }

  atRest(value) { return this.up ? value <= this.rest : value >= this.rest; }
  atPeak(value) { return this.up ? value >= this.peak : value <= this.peak; }
  get holding() { return this.phase === "peak"; }

  // One smoothed value; true when it completed a repetition.
  push(value) {
    if (this.phase === "wait") {
      if (this.atRest(value)) this.phase = "rest";
    } else if (this.phase === "rest") {
      if (this.atPeak(value)) this.phase = "peak";
    } else if (this.atRest(value)) {
      this.phase = "rest";
      this.reps += 1;
      return true;
    }
    return false;
  }

  reset() { this.phase = "wait"; }
}

function commonest(values) {
  const counts = new Map();
  for (const v of values) counts.set(v, (counts.get(v) || 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? null;
}

function median(values) {
  const sorted = [...values].sort((x, y) => x - y);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

// Where the patient stands against what the measurement needs, as a hint code (the page
// words it): null when she is framed for it.
export function framingHint(measurement, rules, frame, get, score, side) {
  if (!requiredPoints(measurement, side).every((name) => score(name) >= rules.min_score)) return "not_visible";
  // Her size in the picture: the body's larger extent, so lying down counts as standing does.
  const seen = frame.points.filter((p) => p[2] >= rules.min_score);
  const extent = (axis) => Math.max(...seen.map((p) => p[axis])) - Math.min(...seen.map((p) => p[axis]));
  if (Math.max(extent(1) / frame.height, extent(0) / frame.width) < rules.min_body_height) return "too_far";
  const shoulders = ["leftShoulder", "rightShoulder", "leftHip", "rightHip"];
  if (shoulders.every((name) => score(name) >= rules.min_score)) {
    const [ls, rs, lh, rh] = shoulders.map(get);
    const torso = distance(mid(ls, rs), mid(lh, rh));
    const ratio = torso ? distance(ls, rs) / torso : 0;
    if (measurement.view === "side" && ratio > rules.side_view_max_shoulder_ratio) return "turn_side";
    if (measurement.view === "front" && ratio < rules.front_view_min_shoulder_ratio) return "turn_front";
  } else if (measurement.view === "front") {
    return "turn_front";
  }
  return null;
}

// One measurement over a stream of frames: framing, the side, smoothing, the count, the peak
// (the largest value, or the longest hold) and (for a hold) the time held. push(frame) returns
// what the pages show: { status: "framing" | "measuring", hint, side, value, peak, reps }.
// `side` is the one asked for; with "auto" the camera's better-seen side is measured, kept
// once measuring has begun, and reported as null: a model's left or right seen from the side
// is not an anatomical fact. `exercise` (a library slug) brings its own thresholds, if any.
export class Measurer {
  constructor(definitions, id, { side = "auto", exercise = null } = {}) {
    const measurement = definitions.measurements[id];
    if (!measurement) throw new Error(`unknown measurement ${id}`);
    const own = exercise && definitions.exercises[exercise];
    this.id = id;
    this.measurement = measurement;
    this.rules = definitions.frame_rules;
    this.index = new Map(definitions.keypoints.map((name, i) => [name, i]));
    this.fixedSide = measurement.sided && (side === "left" || side === "right") ? side : null;
    this.side = this.fixedSide || "right";
    this.counter = new RepCounter(own?.measurement === id && own.count ? own.count : measurement.count);
    this.sideKept = false; // the auto side, chosen once measuring begins
    this.recent = [];
    this.window = []; // while framing: {t, hint, sides} of the last steady_seconds
    this.lastSeen = 0;
    this.measuring = false;
    this.peak = null;
    this.holdStart = null;
    this.hold = 0;
    this.ankleHeights = []; // [t, y] of the last few seconds, for a heel raise's resting height
  }

  push(frame) {
    const point = (name) => frame.points[this.index.get(name)];
    const score = (name) => point(name)?.[2] ?? 0;
    if (!this.measuring) return this.frame(frame, point, score);
    const seen = requiredPoints(this.measurement, this.side).every((name) => score(name) >= this.rules.min_score);
    if (!seen) {
      // A dropped frame is skipped (the last value stands); a joint gone for half the lost
      // time is said, and gone for longer it ends the repetition under way: she is framed
      // again before anything counts.
      const gone = frame.t - this.lastSeen;
      if (gone > this.rules.lost_seconds * 1000) this.lose();
      if (gone <= this.rules.lost_seconds * 500) return this.report("measuring", null);
      return this.report(this.measuring ? "measuring" : "framing", "not_visible");
    }
    this.lastSeen = frame.t;
    const raw = rawValue(this.measurement, point, this.side, this.baseline(frame.t, point));
    if (raw === null) return this.report("measuring", null);
    this.recent.push(raw);
    if (this.recent.length > this.rules.smoothing_frames) this.recent.shift();
    this.value = median(this.recent);
    this.count(frame.t);
    return this.report("measuring", null);
  }

  // Before the numbers count: the frames of the last `steady_seconds`, each with its hint and
  // the two sides' scores. She is framed once they span that long and most (`steady_share`)
  // were right; the side is the one seen better over them; the hint, the commonest problem.
  frame(frame, point, score) {
    const sides = ["left", "right"].map((side) => requiredPoints(this.measurement, side).reduce((sum, name) => sum + score(name), 0));
    const side = this.fixedSide || (this.sideKept ? this.side : sides[0] > sides[1] ? "left" : "right");
    this.window.push({ t: frame.t, hint: framingHint(this.measurement, this.rules, frame, point, score, side), sides });
    // Frames of the last `steady_seconds`, and the one before them (so a slow device, one
    // frame a second or less, still covers the span).
    const span = this.rules.steady_seconds * 1000;
    while (this.window.length > 1 && frame.t - this.window[1].t >= span) this.window.shift();
    if (!this.fixedSide && !this.sideKept) {
      const total = (i) => this.window.reduce((sum, w) => sum + w.sides[i], 0);
      this.side = total(0) > total(1) ? "left" : "right";
    }
    const good = this.window.filter((w) => !w.hint).length;
    const steady = frame.t - this.window[0].t >= span * 0.9 && good >= this.rules.steady_share * this.window.length;
    if (!steady) return this.report("framing", good >= this.window.length / 2 ? "hold_still" : commonest(this.window.map((w) => w.hint).filter(Boolean)));
    this.measuring = true;
    this.sideKept = true;
    this.lastSeen = frame.t;
    this.window = [];
    return this.push(frame);
  }

  // The ankle's resting height: its lowest of the last 5 seconds spent down (a raise held
  // long does not become the rest).
  baseline(t, point) {
    if (this.measurement.formula !== "ankle_rise") return null;
    if (!this.counter.holding || !this.ankleHeights.length) this.ankleHeights.push([t, point(this.side + "Ankle")[1]]);
    // Five seconds before the newest height kept (not before now: a long hold keeps its rest).
    while (this.ankleHeights.length > 1 && this.ankleHeights.at(-1)[0] - this.ankleHeights[0][0] > 5000) this.ankleHeights.shift();
    return Math.max(...this.ankleHeights.map(([, y]) => y));
  }

  count(t) {
    const counter = this.counter;
    const wasHolding = counter.holding;
    counter.push(this.value);
    if (this.measurement.kind === "hold") {
      // The value is the time of the hold under way; a hold counts from min_hold_seconds
      // (a shift of weight is not one); the peak is the longest hold.
      if (counter.holding && !wasHolding) this.holdStart = t;
      const held = (t - this.holdStart) / 1000;
      const long = held >= this.rules.min_hold_seconds;
      if (wasHolding && !counter.holding && !long) counter.reps -= 1;
      if ((counter.holding || wasHolding) && long) this.peak = Math.max(this.peak ?? 0, held);
      this.hold = counter.holding ? held : 0;
      return;
    }
    if (counter.phase === "wait") return;
    this.peak = this.peak === null ? this.value : Math.max(this.peak, this.value);
  }

  lose() {
    this.counter.reset();
    this.recent = [];
    this.value = undefined;
    this.hold = 0;
    this.measuring = false;
  }

  report(status, hint) {
    const shown = this.measurement.kind === "hold" ? this.hold : this.value;
    return {
      status, hint, side: this.fixedSide,
      value: status === "measuring" && !hint && shown !== undefined ? shown : null,
      peak: this.peak, reps: this.counter.reps,
    };
  }
}
