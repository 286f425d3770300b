// The measurement messages of the call's data channel, declared once: what each carries,
// and the check every page runs on one before acting on it (docs/protocol.md, "Measuring").
// A message with a field not declared here, or a value out of its range, is dropped: the
// channel carries numbers about the measurement asked for and nothing else (no image, no
// keypoint of her body).

const ID = /^[A-Za-z0-9]{8,16}$/;
export const STATES = ["asking", "declined", "loading", "measuring", "stopped", "unavailable"];
export const HINTS = ["not_visible", "too_far", "turn_side", "turn_front", "hold_still"];

const isInt = (v, low, high) => Number.isInteger(v) && v >= low && v <= high;
const isId = (v) => typeof v === "string" && ID.test(v);
const oneOf = (list) => (v) => list.includes(v);

// Field checks by message type; `def` is the measurement the message is about (or null).
const FIELDS = {
  "measure-request": {
    id: isId,
    measurement: (v, defs) => typeof v === "string" && Object.hasOwn(defs.measurements, v),
    side: oneOf(["auto", "left", "right"]),
    exercise: (v, defs) => v === null || (typeof v === "string" && Object.hasOwn(defs.exercises, v)),
  },
  "measure-stop": { id: isId },
  "measure-state": { id: isId, state: oneOf(STATES) },
  "measure-sample": {
    id: isId,
    t: (v, defs) => isInt(v, 0, defs.limits.seconds * 1000),
    status: oneOf(["framing", "measuring"]),
    hint: (v) => v === null || HINTS.includes(v),
    side: (v) => v === null || v === "left" || v === "right",
    value: (v, defs, def) => v === null || inRange(v, def),
    peak: (v, defs, def) => v === null || inRange(v, def),
    reps: (v, defs) => isInt(v, 0, defs.limits.reps),
  },
};
export const MEASURE_TYPES = Object.keys(FIELDS);

function inRange(value, def) {
  return typeof value === "number" && Number.isFinite(value) && !!def && value >= def.range[0] && value <= def.range[1];
}

// A value as it travels: rounded to a tenth, held inside the measurement's range.
export function wireValue(value, def) {
  if (value === null || value === undefined || !Number.isFinite(value)) return null;
  return Math.round(Math.min(def.range[1], Math.max(def.range[0], value)) * 10) / 10;
}

// Whether `message` is a well-formed measurement message. `measurementOf(id)` names the
// measurement a session id is about (samples are checked against its range).
export function validMeasureMessage(message, definitions, measurementOf = () => null) {
  if (!message || typeof message !== "object" || Array.isArray(message)) return false;
  const fields = FIELDS[message.type];
  if (!fields) return false;
  const keys = Object.keys(message).filter((key) => key !== "type");
  if (keys.length !== Object.keys(fields).length) return false;
  const def = definitions.measurements[measurementOf(message.id)] || null;
  return keys.every((key) => Object.hasOwn(fields, key) && fields[key](message[key], definitions, def));
}

// A fresh session id.
export function newMeasureId() {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (b) => (b % 36).toString(36)).join("") + Date.now().toString(36).slice(-4);
}
