// How a measured number is written with its unit, label and expected error, in the words of
// the page's language (server/measure/words.py, fetched with measure-setup.js).

export function formatValue(words, def, value) {
  if (value === null || value === undefined) return "–";
  const unit = words.units[def.unit];
  const number = def.unit === "seconds" ? value.toFixed(1) : String(Math.round(value));
  if (def.unit === "deg") return `${number}${unit}`;
  return def.unit === "percent_shin" ? `${number}% ${unit}` : `${number} ${unit}`;
}

// "Knee bend (flexion), right"; a sided measurement the camera took reads "…, the side facing
// the camera" (`side` null) and an unsided one has no side.
export function labelOf(words, id, side, def = null) {
  const label = words.labels[id] || id;
  if (side === "left" || side === "right") return `${label}, ${words.sides[side]}`;
  return def?.sided ? `${label}, ${words.sides.camera}` : label;
}

// Every value is an estimate, with the error of the nearest published validation where one
// exists: in plain words for her, with its ± and origin for the therapist.
export function errorLabel(words, def, { staff = false } = {}) {
  if (!def.error) return words.words.estimated;
  const unit = { deg: "°", percent_shin: `% ${words.units.percent_shin}` }[def.unit] ?? ` ${words.units[def.unit]}`;
  const text = staff ? words.words.estimated_within_staff : words.words.estimated_within;
  return text.replace("{error}", String(def.error)).replace("{unit}", unit);
}

// What a consent sheet says besides its own words: where to put the phone, what this
// measurement needs, the safety line of its posture and the pain rule, one paragraph each.
export function consentNotes(words, definitions, measurement, exercise = null) {
  const def = definitions.measurements[measurement];
  const own = exercise && definitions.exercises[exercise];
  const posture = (own?.measurement === measurement && own.posture) || def.posture;
  const place = posture === "lying_on_back" ? "lying" : def.view;
  return [words.placing[place] + " " + words.placing.clothes, words.extra[measurement], words.safety[posture], words.words.pain]
    .filter(Boolean);
}
