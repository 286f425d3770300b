// The therapist's view of the patient's care in the call: the questionnaires' scores over
// the plan with the minimal important change marked, adherence, and open pain flags.
import { t } from "./i18n.js";

const SVG = "http://www.w3.org/2000/svg";
const READING = {
  improved: () => t("important improvement"),
  worsened: () => t("important worsening"),
  no_important_change: () => t("no important change"),
};

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

// A small line chart of one questionnaire's fills: the band of no important change
// around the first fill shaded, each later fill a dot.
function chart(trend) {
  const width = 240, height = 72, pad = 6;
  const fills = trend.fills;
  const y = (score) => pad + (height - 2 * pad) * (1 - (score - trend.low) / (trend.high - trend.low || 1));
  const x = (i) => pad + (fills.length > 1 ? (width - 2 * pad) * (i / (fills.length - 1)) : (width - 2 * pad) / 2);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "care-chart", role: "img" });
  const title = svg("title", {});
  title.textContent = t("{title}: scores over the plan", { title: trend.title });
  root.append(title);
  if (trend.band) {
    const top = y(Math.max(trend.band.low, trend.band.high)), bottom = y(Math.min(trend.band.low, trend.band.high));
    root.append(svg("rect", { x: pad, y: top, width: width - 2 * pad, height: Math.max(1, bottom - top), class: "care-band" }));
  }
  if (fills.length > 1) {
    root.append(svg("polyline", { points: fills.map((f, i) => `${x(i)},${y(f.score)}`).join(" "), class: "care-line" }));
  }
  fills.forEach((f, i) => root.append(svg("circle", { cx: x(i), cy: y(f.score), r: 3.5, class: `care-dot ${f.reading || "baseline"}` })));
  return root;
}

function outcome(trend) {
  const li = el("li", { "data-testid": "care-outcome", "data-instrument": trend.instrument });
  const last = trend.fills.at(-1);
  li.append(el("strong", {}, trend.title));
  if (!last) {
    li.append(el("p", { class: "muted" }, t("Not filled in yet.")));
    return li;
  }
  const better = trend.better === "higher" ? t("higher is better") : t("lower is better");
  const mic = trend.mic == null ? "" : t("; important change: {mic} points", { mic: trend.mic });
  li.append(el("p", { class: "muted small-print" }, `${better}${mic}`));
  li.append(chart(trend));
  const scores = trend.fills.map((f) => f.score).join(" → ");
  const reading = last.reading ? ` (${READING[last.reading]()})` : "";
  li.append(el("p", { "data-testid": "care-scores" }, `${scores}${reading}`));
  return li;
}

export class CarePanel {
  constructor({ root, visitId }) {
    this.root = root;
    this.visitId = visitId;
  }

  async load() {
    const response = await fetch(`/visits/${this.visitId}/care.json`, { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const care = await response.json();
    if (!care.plan) return;
    this.root.hidden = false;
    const [week, month] = care.adherence;
    const rate = (a) => (a.planned ? t("{done} of {planned} sessions", { done: a.done, planned: a.planned }) : t("nothing planned"));
    this.root.querySelector("#care-adherence").textContent = t("Last 7 days: {week}. Last 28 days: {month}.", { week: rate(week), month: rate(month) });
    const flags = this.root.querySelector("#care-flags");
    flags.replaceChildren(...care.flags.map((f) => el("li", { class: "flag", "data-testid": "care-flag" },
      t("Pain {pain} of 10 on {exercise}", { pain: f.pain, exercise: f.exercise.replaceAll("-", " ") }))));
    flags.hidden = care.flags.length === 0;
    this.root.querySelector("#care-outcomes").replaceChildren(...care.outcomes.map(outcome));
  }
}
