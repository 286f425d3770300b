// The therapist's library panel in the call: find a condition, show an exercise to the
// patient, and build the home program.
import { CarePanel } from "./call-care.js";
import { t } from "./i18n.js";

async function getJSON(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}

function item(text, ...buttons) {
  const li = document.createElement("li");
  const label = document.createElement("span");
  label.textContent = text;
  li.append(label, ...buttons);
  return li;
}

function button(text, attrs, onClick) {
  const el = document.createElement("button");
  el.type = "button";
  el.textContent = text;
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.addEventListener("click", onClick);
  return el;
}

export class LibraryPanel {
  constructor({ root, visitId, onShow, measure }) {
    this.root = root;
    this.visitId = visitId;
    this.onShow = onShow;
    this.measure = measure; // the measure panel (call-measure.js)
    this.conditions = [];
    this.assigning = null;
    this.changing = null;
    this.care = new CarePanel({ root: root.querySelector("#care-panel"), visitId });
    this.$ = (id) => root.querySelector(`#${id}`);
    this.$("library-search").addEventListener("input", () => this.renderConditions());
    this.$("library-back").addEventListener("click", () => { this.$("library-exercises").hidden = true; this.$("library-conditions").hidden = false; });
    this.$("assign-cancel").addEventListener("click", () => { this.$("assign-form").hidden = true; });
    this.$("assign-form").addEventListener("submit", (e) => { e.preventDefault(); this.saveAssignment(); });
  }

  async load() {
    await this.measure?.load().catch((err) => console.warn("measurements:", err));
    this.offerMeasurements();
    this.conditions = (await getJSON("/api/library/conditions")).conditions;
    this.renderConditions();
    await this.refreshAssigned();
    await this.care.load().catch((err) => console.warn("care:", err));
  }

  renderConditions() {
    const q = this.$("library-search").value.trim().toLowerCase();
    const list = this.conditions.filter((c) => !q || c.name.toLowerCase().includes(q) || c.aliases.some((a) => a.toLowerCase().includes(q)));
    this.$("library-conditions").replaceChildren(...list.map((c) =>
      item("", button(c.name, { class: "link-button", "data-condition": c.slug }, () => this.openCondition(c.slug)))));
  }

  async openCondition(slug) {
    const condition = await getJSON(`/api/library/conditions/${slug}`);
    this.$("library-condition-name").textContent = condition.name;
    this.$("library-exercise-list").replaceChildren(...condition.exercises.map((e) => item(e.name,
      button(t("Show to patient"), { "data-testid": "demo-show-button", "data-exercise": e.slug, "aria-label": t("Show {name} to the patient", { name: e.name }) }, () => this.onShow(e.slug)),
      button(t("Assign"), { class: "secondary", "data-testid": "assign-button", "data-exercise": e.slug, "aria-label": t("Assign {name}", { name: e.name }) }, () => this.openAssign(e)),
      ...this.measureButton(e))));
    this.$("library-conditions").hidden = true;
    this.$("library-exercises").hidden = false;
  }

  // "Measure" beside an exercise the patient's camera can count (measurements.json `exercises`).
  measureButton(exercise) {
    const measurement = this.measure?.available && this.measure.measurementFor(exercise.slug);
    if (!measurement) return [];
    return [button(t("Measure"), { class: "secondary", "data-testid": "measure-button", "data-exercise": exercise.slug, "aria-label": t("Measure {name} with the patient’s camera", { name: exercise.name }) },
      () => this.measure.start(measurement, { exercise: exercise.slug }))];
  }

  // The list of every measurement, for one not tied to an exercise (a shoulder's range, say).
  offerMeasurements() {
    if (!this.measure?.available) return;
    const { definitions } = this.measure;
    const choice = this.$("measure-choice");
    choice.replaceChildren(...Object.keys(definitions.measurements).map((id) => {
      const option = document.createElement("option");
      option.value = id;
      option.textContent = this.measure.words.labels[id];
      return option;
    }));
    // A side to choose only for a measurement that has one.
    const sided = () => { this.$("measure-side").closest("label").hidden = !definitions.measurements[choice.value].sided; };
    choice.addEventListener("change", sided);
    sided();
    this.$("measure-choose-start").addEventListener("click", () => this.measure.start(choice.value, { side: this.$("measure-side").value }));
    this.$("measure-choose").hidden = false;
  }

  openAssign(exercise, current = null) {
    // `current`: an assigned exercise whose dosage or note changes (the new one replaces it).
    this.assigning = exercise;
    this.changing = current;
    const form = this.$("assign-form");
    this.$("assign-title").textContent = current ? t("Change: {name}", { name: exercise.name }) : t("Assign: {name}", { name: exercise.name });
    this.$("assign-save").textContent = current ? t("Save the change") : t("Add to home program");
    const dose = current || exercise.dosage;
    for (const field of ["sets", "reps", "hold_seconds", "per_day"]) form.elements[field].value = dose[field];
    form.elements.note.value = current ? current.note : "";
    this.$("assign-error").hidden = true;
    form.hidden = false;
    form.elements.sets.focus();
  }

  async saveAssignment() {
    const form = this.$("assign-form");
    const number = (name) => Number.parseInt(form.elements[name].value, 10);
    const perDay = number("per_day");
    const body = {
      exercise: this.assigning.slug, sets: number("sets"), reps: number("reps"), hold_seconds: number("hold_seconds"),
      per_day: perDay, per_week: perDay ? 0 : this.assigning.dosage.per_week || 3, note: form.elements.note.value,
    };
    const changing = this.changing;
    if (changing) delete body.exercise;
    const response = await fetch(changing ? `/visits/${this.visitId}/assignments/${changing.id}` : `/visits/${this.visitId}/assignments`, {
      method: changing ? "PATCH" : "POST", headers: { "Content-Type": "application/json", Accept: "application/json" }, body: JSON.stringify(body),
    });
    if (!response.ok) {
      const problem = await response.json().catch(() => ({}));
      this.$("assign-error").textContent = problem.error?.message || t("Could not save.");
      this.$("assign-error").hidden = false;
      return;
    }
    form.hidden = true;
    await this.refreshAssigned();
  }

  async refreshAssigned() {
    const { assignments } = await getJSON(`/visits/${this.visitId}/assignments`);
    this.$("assigned-list").replaceChildren(...assignments.map((a) => {
      const name = a.exercise.replaceAll("-", " ");
      const hold = a.hold_seconds ? t(", hold {s} s", { s: a.hold_seconds }) : "";
      const li = item(`${name}: ${a.sets} × ${a.reps}${hold}`,
        button(t("Change"), { class: "secondary small", "data-testid": "change-button", "aria-label": t("Change {name}", { name }) }, () => this.openAssign(
          { slug: a.exercise, name, dosage: { per_week: a.per_week } }, a)),
        button(t("Remove"), { class: "secondary small", "aria-label": t("Remove {name}", { name: a.exercise }) }, async () => {
          await fetch(`/visits/${this.visitId}/assignments/${a.id}`, { method: "DELETE" });
          await this.refreshAssigned();
        }));
      li.dataset.exercise = a.exercise;
      return li;
    }));
    this.$("assigned-empty").hidden = assignments.length > 0;
  }
}
