// The demo figure: joints from a pose (the same rules as server/library/figure.py), seen from
// a view (side, front, above), drawn as an SVG body with volume, the floor and the props.
// Sizes, views and props come from server/library/figure.toml with each exercise.

const R = Math.PI / 180;
const LIMBS = [["arm", "r", 1, 0], ["far_arm", "l", -1, 1], ["leg", "r", 1, 0], ["far_leg", "l", -1, 1]];
const dir = (a, o = 0, s = 1) => [Math.cos(a * R) * Math.cos(o * R), Math.sin(a * R) * Math.cos(o * R), s * Math.sin(o * R)];
const add = (p, q, k = 1) => [p[0] + k * q[0], p[1] + k * q[1], p[2] + k * q[2]];
const lerp = (p, q, t) => add(p, [q[0] - p[0], q[1] - p[1], q[2] - p[2]], t);

// A pose with every optional field filled in, so two poses blend field by field.
export function complete(pose) {
  const p = structuredClone(pose);
  p.hip = [...p.hip, 0].slice(0, 3);
  p.roll ??= 0; p.turn ??= 0;
  p.out = Object.fromEntries(LIMBS.map(([k]) => [k, pose.out?.[k] ?? [0, 0]]));
  p.foot ??= [p.leg[1] - 90, p.far_leg[1] - 90];
  p.hand ??= [p.arm[1], p.far_arm[1]];
  p.hand_out ??= [p.out.arm[1], p.out.far_arm[1]];
  p.tilt ??= 0;
  return p;
}

// Blend two completed poses; angles take the short way round.
export function blend(a, b, t) {
  const mix = (x, y, angle) => (angle ? x + ((((y - x + 540) % 360) - 180) * t) : x + (y - x) * t);
  const walk = (x, y, angle) => Array.isArray(x) ? x.map((v, i) => mix(v, y[i], angle))
    : typeof x === "number" ? mix(x, y, angle)
      : Object.fromEntries(Object.keys(x).map((k) => [k, walk(x[k], y[k], angle)]));
  const out = {};
  for (const k of Object.keys(b)) out[k] = k === "touch" || k === "airborne" ? b[k] : walk(a[k] ?? b[k], b[k], k !== "hip");
  return out;
}

// Joints of a completed pose on the stage (x right, y down, z towards the side viewer).
export function joints(p, fig) {
  const b = fig.body;
  const j = { hip: [0, 0, 0], hip_r: [0, 0, b.pelvis], hip_l: [0, 0, -b.pelvis] };
  const [t0, t1] = p.trunk;
  j.mid = dir(t0).map((v) => v * b.trunk[0]);
  j.neck = add(j.mid, dir(t1), b.trunk[1]);
  const top = add(j.neck, dir(t1), -b.shoulder_drop);
  j.shoulder_r = add(top, [0, 0, b.shoulders]); j.shoulder_l = add(top, [0, 0, -b.shoulders]);
  const up = dir(p.head), tilt = (p.tilt ?? 0) * R;
  j.head = add(j.neck, [up[0] * Math.cos(tilt), up[1] * Math.cos(tilt), Math.sin(tilt)], b.head);
  j.nose = add(j.head, dir(p.head + 90), fig.radius.head);
  // Eyes on the face, either side of the midline: two when she faces the viewer, one in profile.
  const eye = add(add(j.head, dir(p.head + 90), fig.radius.head * 0.72), dir(p.head), fig.radius.head * 0.25);
  j.eye_r = add(eye, [0, 0, fig.radius.head * 0.38]); j.eye_l = add(eye, [0, 0, -fig.radius.head * 0.38]);
  // Points where muscles are lit: in front of or behind the trunk, between the legs.
  const front0 = dir(t0 + 90), front1 = dir(t1 + 90);
  j.belly = add(lerp(j.hip, j.mid, 0.55), front0, 5); j.back = add(lerp(j.hip, j.mid, 0.7), front0, -5);
  j.seat = add(j.hip, front0, -6); j.floor = add(add(j.hip, dir(t0), -6), front0, 1);
  j.chest = add(lerp(j.mid, j.neck, 0.5), front1, 5);
  for (const [limb, s, side, i] of LIMBS) {
    const [a0, a1] = p[limb], [o0, o1] = p.out[limb];
    if (limb.endsWith("leg")) {
      j[`knee_${s}`] = add(j[`hip_${s}`], dir(a0, o0, side), b.leg[0]);
      j[`ankle_${s}`] = add(j[`knee_${s}`], dir(a1, o1, side), b.leg[1]);
      j[`toe_${s}`] = add(j[`ankle_${s}`], dir(p.foot[i], o1, side), b.foot);
    } else {
      j[`elbow_${s}`] = add(j[`shoulder_${s}`], dir(a0, o0, side), b.arm[0]);
      j[`wrist_${s}`] = add(j[`elbow_${s}`], dir(a1, o1, side), b.arm[1]);
      j[`fingers_${s}`] = add(j[`wrist_${s}`], dir(p.hand[i], p.hand_out?.[i] ?? o1, side), b.hand);
    }
  }
  const [cr, sr, ct, st] = [Math.cos(p.roll * R), Math.sin(p.roll * R), Math.cos(p.turn * R), Math.sin(p.turn * R)];
  for (const [k, [u0, v0, w0]] of Object.entries(j)) {
    const v = v0 * cr + w0 * sr, w1 = -v0 * sr + w0 * cr;
    const u = u0 * ct - w1 * st, w = u0 * st + w1 * ct;
    j[k] = [p.hip[0] + u, p.hip[1] + v, p.hip[2] + w];
  }
  return j;
}

// A camera [turn, tilt] in degrees: screen x, screen y and depth (larger is nearer).
export function camera([yaw, pitch]) {
  const [cy, sy, cp, sp] = [Math.cos(yaw * R), Math.sin(yaw * R), Math.cos(pitch * R), Math.sin(pitch * R)];
  return ([x, y, z]) => {
    const X = x - 120, Y = y - 80, d = X * sy + z * cy;
    return [120 + X * cy - z * sy, 80 + Y * cp + d * sp, d * cp - Y * sp];
  };
}

// Muscle groups: the capsules or points lit when a step works them.
const MUSCLES = {
  pelvic_floor: [["floor", "floor", 5]], glutes: [["seat", "hip_r", 7], ["seat", "hip_l", 7]],
  abdomen: [["belly", "belly", 7]], back: [["back", "back", 7]], chest: [["chest", "chest", 7]],
  neck: [["neck", "head", 4]], wrist: [["wrist_r", "fingers_r", 3], ["wrist_l", "fingers_l", 3]],
  thumb: [["fingers_r", "fingers_r", 3], ["fingers_l", "fingers_l", 3]],
  inner_thighs: [["hip_r", "knee_r", 4], ["hip_l", "knee_l", 4]], thighs: [["hip_r", "knee_r", 5], ["hip_l", "knee_l", 5]],
  hamstrings: [["hip_r", "knee_r", 4.5], ["hip_l", "knee_l", 4.5]], calves: [["knee_r", "ankle_r", 4], ["knee_l", "ankle_l", 4]],
  hip_flexors: [["hip_r", "hip_r", 6], ["hip_l", "hip_l", 6]], shoulders: [["shoulder_r", "shoulder_r", 6], ["shoulder_l", "shoulder_l", 6]],
  arms: [["shoulder_r", "elbow_r", 4], ["shoulder_l", "elbow_l", 4]],
  // One whole leg, her right or her left: the leg that leads on the stairs.
  leg: [["hip_r", "knee_r", 4.5], ["knee_r", "ankle_r", 3.5]], far_leg: [["hip_l", "knee_l", 4.5], ["knee_l", "ankle_l", 3.5]],
};

const f1 = (v) => Math.round(v * 10) / 10;

// The 2D outline of a tapered capsule (two circles and their outer tangents).
function capsule(a, b, ra, rb) {
  const dx = b[0] - a[0], dy = b[1] - a[1], d = Math.hypot(dx, dy);
  if (d <= Math.abs(ra - rb) + 0.01) { const [c, r] = ra >= rb ? [a, ra] : [b, rb]; return `M${f1(c[0] - r)} ${f1(c[1])}a${r} ${r} 0 1 0 ${f1(2 * r)} 0a${r} ${r} 0 1 0 ${f1(-2 * r)} 0Z`; }
  const th = Math.atan2(dy, dx), ph = Math.acos((ra - rb) / d);
  const pt = (c, r, ang) => `${f1(c[0] + r * Math.cos(ang))} ${f1(c[1] + r * Math.sin(ang))}`;
  return `M${pt(a, ra, th + ph)}A${f1(ra)} ${f1(ra)} 0 1 1 ${pt(a, ra, th - ph)}L${pt(b, rb, th - ph)}A${f1(rb)} ${f1(rb)} 0 0 1 ${pt(b, rb, th + ph)}Z`;
}

// Convex hull of 2D points (monotone chain): how a box looks from any side.
function hull(points) {
  const p = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const cross = (o, a, b) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const half = (list) => { const h = []; for (const q of list) { while (h.length > 1 && cross(h[h.length - 2], h[h.length - 1], q) <= 0) h.pop(); h.push(q); } h.pop(); return h; };
  return [...half(p), ...half(p.reverse())];
}
const poly = (pts) => `M${pts.map((q) => `${f1(q[0])} ${f1(q[1])}`).join("L")}Z`;
const corners = ([x0, y0, z0, x1, y1, z1]) => [[x0, y0, z0], [x1, y0, z0], [x0, y1, z0], [x1, y1, z0], [x0, y0, z1], [x1, y0, z1], [x0, y1, z1], [x1, y1, z1]];

// Props placed for this pose: fixed ones shifted as the exercise says, held ones at the hands.
function propShapes(props, j) {
  const out = [];
  for (const prop of props) {
    if (prop.band) { out.push({ band: [j[point(prop.band[0])], j[point(prop.band[1])]], name: prop.name }); continue; }
    const [a, b] = (prop.between ?? ["hand", "far_hand"]).map((n) => j[point(n)]);
    // A held load shows only while both hands (or knees) are together around it.
    if (prop.held && Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]) > 30) continue;
    const at = prop.held ? lerp(a, b, 0.5) : [prop.dx ?? 0, prop.dy ?? 0, prop.dz ?? 0];
    out.push({ name: prop.name, held: prop.held, boxes: (prop.boxes ?? []).map((b) => b.map((v, i) => v + at[i % 3])),
      balls: (prop.balls ?? []).map((b) => [b[0] + at[0], b[1] + at[1], b[2] + at[2], b[3]]) });
  }
  return out;
}
const point = (name) => ({ hand: "fingers_r", far_hand: "fingers_l", knee: "knee_r", far_knee: "knee_l",
  foot: "toe_r", far_foot: "toe_l", ankle: "ankle_r", far_ankle: "ankle_l" })[name] ?? name;

// Everything a pose looks like from a view, as [depth, svg] pieces (the caller sorts and joins).
export function scene(pose, fig, { view = "side", props = [], highlight = "" } = {}) {
  const j = joints(pose, fig), see = camera(fig.views[view] ?? fig.views.side), r = fig.radius;
  const P = Object.fromEntries(Object.entries(j).map(([k, v]) => [k, see(v)]));
  const parts = [];
  const piece = (a, b, ra, rb, cls, depth) => parts.push([depth ?? (P[a][2] + P[b][2]) / 2, `<path class="${cls}" d="${capsule(P[a], P[b], ra, rb)}"/>`]);
  // The side nearer the viewer is dark; on a tie the higher one (side-lying: the top leg).
  const nearer = (a, b) => (Math.abs(P[a][2] - P[b][2]) > 3 ? P[a][2] > P[b][2] : Math.abs(P[a][1] - P[b][1]) > 3 ? P[a][1] < P[b][1] : true);
  for (const [s, other] of [["r", "l"], ["l", "r"]]) {
    const leg = nearer(`hip_${s}`, `hip_${other}`) ? "f-near" : "f-far", arm = nearer(`shoulder_${s}`, `shoulder_${other}`) ? "f-near" : "f-far";
    piece(`hip_${s}`, `knee_${s}`, ...r.thigh, leg); piece(`knee_${s}`, `ankle_${s}`, ...r.shin, leg); piece(`ankle_${s}`, `toe_${s}`, ...r.foot, leg);
    piece(`shoulder_${s}`, `elbow_${s}`, ...r.upper_arm, arm); piece(`elbow_${s}`, `wrist_${s}`, ...r.forearm, arm); piece(`wrist_${s}`, `fingers_${s}`, ...r.hand, arm);
  }
  const core = (P.hip[2] + P.mid[2] + P.neck[2]) / 3;
  const torso = hull([P.hip_r, P.hip_l, P.shoulder_l, P.shoulder_r, P.mid].map((q) => q.slice(0, 2)));
  parts.push([core, `<path class="f-body f-torso" stroke-width="${r.chest * 1.6}" d="${poly(torso)}"/>`]);
  piece("hip_r", "hip_l", r.pelvis, r.pelvis, "f-body", core); piece("hip", "mid", r.pelvis, r.waist, "f-body", core + 0.1);
  piece("mid", "neck", r.waist, r.chest, "f-body", core + 0.2); piece("neck", "head", r.neck, r.neck, "f-body", (P.neck[2] + P.head[2]) / 2);
  parts.push([P.head[2] + 0.1, `<circle class="f-head" cx="${f1(P.head[0])}" cy="${f1(P.head[1])}" r="${r.head}"/>`]);
  for (const e of ["eye_r", "eye_l"]) if (P[e][2] > P.head[2] + 1) parts.push([P.head[2] + 0.2, `<circle class="f-face" cx="${f1(P[e][0])}" cy="${f1(P[e][1])}" r="1.6"/>`]);
  const behind = [], front = [];
  for (const shape of propShapes(props, j)) {
    if (shape.band) { front.push(`<path class="p-band" d="M${f1(see(shape.band[0])[0])} ${f1(see(shape.band[0])[1])}L${f1(see(shape.band[1])[0])} ${f1(see(shape.band[1])[1])}"/>`); continue; }
    const svg = [...shape.boxes.map((b) => `<path class="p-${shape.name}" d="${poly(hull(corners(b).map((c) => see(c).slice(0, 2))))}"/>`),
      ...shape.balls.map((b) => { const c = see(b); return `<circle class="p-${shape.name}" cx="${f1(c[0])}" cy="${f1(c[1])}" r="${b[3]}"/>`; })].join("");
    // Held props go in front of the body; the rest behind it unless wholly nearer the viewer.
    const depth = shape.held ? Infinity : Math.min(...shape.boxes.flatMap((b) => corners(b).map((c) => see(c)[2])), ...shape.balls.map((b) => see(b)[2] - b[3]));
    (depth > core + 5 ? front : behind).push(svg);
  }
  parts.sort((a, b) => a[0] - b[0]);
  const glow = (MUSCLES[highlight] ?? []).map(([a, b, w]) => `<path class="f-glow" d="${capsule(P[a], P[b], w, w)}"/>`).join("");
  const floor = hull([[-400, 150, -200], [640, 150, -200], [-400, 150, 200], [640, 150, 200]].map((c) => see(c).slice(0, 2)));
  return { floor: `<path class="demo-floor" d="${poly(floor)}"/>`, behind: behind.join(""), body: parts.map((x) => x[1]).join(""), front: front.join(""), glow,
    box: bounds([...Object.values(P).map((q) => [q[0], q[1], 10]), ...propShapes(props, j).flatMap((s) => s.band ? [] : [...s.boxes.flatMap((b) => corners(b).map((c) => [...see(c).slice(0, 2), 0])), ...s.balls.map((b) => [...see(b).slice(0, 2), b[3]])])]) };
}

function bounds(points) {
  const xs = points.flatMap(([x, , m]) => [x - m, x + m]), ys = points.flatMap(([, y, m]) => [y - m, y + m]);
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}

// A 3:2 window around boxes (every keyframe of one view), with the floor in sight.
export function frameBox(boxes, view) {
  let [x0, y0, x1, y1] = boxes.reduce((a, b) => [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[2], b[2]), Math.max(a[3], b[3])]);
  if (view !== "above") y1 = Math.max(y1, 156);
  const pad = 6; x0 -= pad; y0 -= pad; x1 += pad; y1 += pad;
  let w = Math.max(x1 - x0, 150), h = Math.max(y1 - y0, 100);
  if (w / h > 1.5) h = w / 1.5; else w = h * 1.5;
  const cx = (x0 + x1) / 2, cy = view === "above" ? (y0 + y1) / 2 : y1 - h / 2;
  return [f1(cx - w / 2), f1(cy - h / 2), f1(w), f1(h)];
}
