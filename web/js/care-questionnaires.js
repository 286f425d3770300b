// Questionnaires she has to fill, from /care/{plan}/questionnaires.json (each pending round:
// instrument, due_at, first, title, measures, instructions, items [{key, text, low, high,
// anchors}], and for a PSFS after its first fill `form.activities`): a card per round, one
// question at a time with big answers (a verbal scale as a list, a numeric one as a 0-10
// row with its end words). The PSFS at intake lets her name 1-5 activities and rate each;
// a later PSFS rates the activities she named then. The server's words come already in her
// language and are put in the page as text.
import { el } from "./dom.js";
import { t } from "./i18n.js";

const MAX_ACTIVITIES = 5;
const PSFS = "psfs";

/** A fieldset with one radio per value from low to high; `anchors` labels some of them. */
function choiceSet(name, legend, low, high, anchors = {}) {
  const values = Array.from({ length: high - low + 1 }, (_, i) => low + i);
  const verbal = values.every((v) => anchors[v]);
  const set = el("fieldset", { className: verbal ? "choices" : "scale", dataset: { question: name } },
    el("legend", { textContent: legend }));
  const options = el("div", { className: verbal ? "choice-list" : "scale-steps" });
  for (const value of values) {
    const input = el("input", { type: "radio", name, value: String(value) });
    const text = el("span", { textContent: verbal ? anchors[value] : String(value) });
    if (!verbal && anchors[value]) text.append(el("span", { className: "visually-hidden", textContent: ` ${anchors[value]}` }));
    options.append(el("label", { className: verbal ? "choice-option" : "scale-step" }, input, text));
  }
  set.append(options);
  if (!verbal && (anchors[low] || anchors[high])) {
    const ends = el("p", { className: "scale-ends", "aria-hidden": "true" },
      el("span", { textContent: anchors[low] ? `${low}: ${anchors[low]}` : "" }),
      el("span", { textContent: anchors[high] ? `${high}: ${anchors[high]}` : "" }));
    set.append(ends);
  }
  return set;
}

function picked(scope, name) {
  const input = scope.querySelector(`input[name="${CSS.escape(name)}"]:checked`);
  return input ? Number(input.value) : null;
}

/** Steps shown one at a time with Back / Next; a choice moves on by itself; Send on the last. */
function stepper(steps, nav, progress, send) {
  let at = 0;
  const back = el("button", { type: "button", className: "secondary", textContent: t("Back") });
  const next = el("button", { type: "button", textContent: t("Next") });
  const show = () => {
    steps.forEach((step, i) => { step.hidden = i !== at; });
    back.disabled = at === 0;
    next.hidden = at === steps.length - 1;
    send.hidden = !next.hidden; // sent from the last question, once every one was seen
    progress.textContent = t("Question {n} of {total}", { n: at + 1, total: steps.length });
  };
  back.addEventListener("click", () => { at = Math.max(0, at - 1); show(); });
  next.addEventListener("click", () => { at = Math.min(steps.length - 1, at + 1); show(); steps[at].querySelector("input")?.focus(); });
  for (const step of steps) {
    step.addEventListener("change", () => {
      if (at < steps.length - 1) setTimeout(() => next.click(), 250);
    });
  }
  nav.append(back, next);
  nav.hidden = progress.hidden = false;
  show();
}

function psfsRows(pending, container) {
  const anchors = pending.anchors || {}; // the PSFS's end words, when the server sends them
  const named = pending.form?.activities;
  if (Array.isArray(named) && named.length) {
    named.forEach((a, i) => container.append(choiceSet(`activity-${i}`, a.activity, 0, 10, anchors)));
    return () => ({ activities: named.map((a, i) => ({ activity: a.activity, score: picked(container, `activity-${i}`) })) });
  }
  const rows = el("div", { className: "activities" });
  const add = el("button", { type: "button", className: "secondary", textContent: t("Add another activity") });
  const addRow = () => {
    const n = rows.children.length + 1;
    const id = `${pending.instrument}-activity-${n}-${Date.now()}`;
    const row = el("div", { class: "activity-row card" },
      el("label", { htmlFor: id, textContent: t("Activity {n}", { n }) }),
      el("input", { id, type: "text", maxLength: 100, autocomplete: "off", dataset: { activity: "" } }),
      choiceSet(`${id}-score`, t("How well can you do it now?"), 0, 10, anchors));
    rows.append(row);
    add.hidden = rows.children.length >= MAX_ACTIVITIES;
    if (n > 1) row.querySelector("input").focus();
  };
  add.addEventListener("click", addRow);
  container.append(rows, add);
  addRow();
  return () => ({
    activities: [...rows.children].map((row) => ({
      activity: row.querySelector("input[type=text]").value.trim(),
      score: picked(row, `${row.querySelector("input[type=text]").id}-score`),
    })).filter((a) => a.activity || a.score !== null),
  });
}

function questionnaireCard(base, pending) {
  const key = pending.instrument;
  const card = el("section", { class: "questionnaire card", dataset: { testid: "questionnaire", instrument: key } },
    el("h3", { textContent: pending.title || key }));
  // Shown in English on a page in another language (no validated version here): say so, and
  // let a screen reader read its words as English.
  const lang = pending.language && pending.language !== document.documentElement.lang ? pending.language : "";
  if (lang) card.querySelector("h3").lang = lang;
  if (pending.language_note) card.append(el("p", { className: "english-only", dataset: { testid: "questionnaire-language" }, textContent: pending.language_note }));
  if (pending.measures) card.append(el("p", { className: "muted", textContent: pending.measures, ...(lang && { lang }) }));
  if (pending.instructions) card.append(el("p", { textContent: pending.instructions, ...(lang && { lang }) }));
  const form = el("form", { className: "questionnaire-form", noValidate: true });
  const progress = el("p", { class: "muted q-progress", "aria-live": "polite", hidden: true });
  const body = el("div", { className: "q-body", ...(lang && { lang }) });
  const nav = el("div", { className: "q-nav", hidden: true });
  const status = el("p", { className: "save-status", role: "status", "aria-live": "polite" });
  const send = el("button", { type: "submit", textContent: t("Send answers") });
  let answers;
  if (key === PSFS) {
    answers = psfsRows(pending, body);
  } else {
    const items = pending.items || [];
    const steps = items.map((item) => choiceSet(`${key}-${item.key}`, item.text, item.low, item.high, item.anchors || {}));
    body.append(...steps);
    if (steps.length > 1) stepper(steps, nav, progress, send);
    answers = () => ({ items: Object.fromEntries(items.map((item) => [item.key, picked(body, `${key}-${item.key}`)])) });
  }
  form.append(progress, body, nav, send, status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const given = answers();
    const missing = key === PSFS
      ? !given.activities.length || given.activities.some((a) => !a.activity || a.score === null)
      : Object.values(given.items).some((v) => v === null);
    if (missing) {
      status.textContent = key === PSFS ? t("Name each activity and give it a number from 0 to 10.") : t("Please answer every question.");
      return;
    }
    send.disabled = true;
    status.textContent = t("Sending…");
    try {
      const response = await fetch(`${base}/questionnaires/${encodeURIComponent(key)}`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ due_at: pending.due_at, answers: given }),
        credentials: "same-origin",
        signal: AbortSignal.timeout(15000),
      });
      if (response.ok) {
        card.replaceChildren(el("h3", { textContent: pending.title || key }),
          el("p", { role: "status", textContent: t("Thank you. Your answers were sent to your therapist.") }));
        card.dataset.sent = "true";
        return;
      }
      status.textContent = response.status === 422
        ? t("Some answers could not be taken. Check them and send again.")
        : t("Not sent. Please try again later.");
    } catch {
      status.textContent = t("Not sent: no connection. Your answers are still here; send them when you are back online.");
    }
    send.disabled = false;
  });
  card.append(form);
  return card;
}

/** Show the pending questionnaires, if the server has any for her (the section stays hidden
 * otherwise). `base`: where they are read and sent (her plan's page, or the visit's while she
 * waits to be let in). */
export async function setUpQuestionnaires(root, base = `/care/${encodeURIComponent(root.dataset.plan)}`) {
  const section = root.querySelector("#questionnaires");
  const list = root.querySelector("#questionnaire-list");
  if (!section || !list) return;
  let pending = [];
  try {
    const response = await fetch(`${base}/questionnaires.json`, {
      headers: { Accept: "application/json" }, credentials: "same-origin", signal: AbortSignal.timeout(10000),
    });
    if (!response.ok) return;
    pending = (await response.json()).pending || [];
  } catch {
    return;
  }
  if (!Array.isArray(pending) || !pending.length) return;
  list.replaceChildren(...pending.map((p) => questionnaireCard(base, p)));
  section.hidden = false;
}
