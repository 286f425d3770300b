// Her exercise log on the plan page: the form (done / partly / skipped, pain for what she
// did, effort, a note, one Save), the offline queue it feeds (care-queue.js) and the list
// of her last few sessions. Save puts the session in the queue first, then sends the queue.
import { t } from "./i18n.js";
import { SessionQueue, newClientKey } from "./care-queue.js";

const RETRY_MS = 30000;
const RECENT = 5;
const WITH_PAIN = new Set(["done", "partly"]);
const NOTE_MAX = 500;

// 24-hour, as the server writes times (i18n.TIME_FORMATS); in the phone's own time zone.
const when = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
  weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
});

/** Wire the log form of the page; `root` is the page's article with its data attributes. */
export function setUpLog(root) {
  const queue = new SessionQueue(root.dataset.plan);
  const form = root.querySelector("#log-form");
  if (!form) {
    // No exercises left to log, but what waits on this phone is still sent.
    keepSending(() => queue.flush(), queue);
    return queue;
  }
  const highPain = Number(root.dataset.highPain); // the server's pain-flag rule
  const status = root.querySelector("#log-status");
  const error = root.querySelector("#log-error");
  const alertBox = root.querySelector("#pain-alert");
  const list = root.querySelector("#recent-list");
  const empty = root.querySelector("#recent-empty");
  const done = new Map(); // client_key → {body, state: "sent" | "refused"}, this page only

  const exercises = [...form.querySelectorAll(".log-exercise")];
  for (const fieldset of exercises) {
    fieldset.addEventListener("change", (event) => {
      if (!event.target.name?.startsWith("status-")) return;
      showPain(fieldset, WITH_PAIN.has(event.target.value));
    });
    fieldset.querySelector(".log-counted-remove")?.addEventListener("click", () => clearCounted(fieldset));
  }

  const render = () => renderRecent(list, empty, queue.entries(), done);
  queue.addEventListener("change", render);
  render();

  // What a flush made of each session, said once; the session she just saved is said by Save.
  const report = (outcomes, own = null) => {
    for (const [key, outcome] of outcomes) {
      const body = outcome.body;
      if (outcome.state === "sent") done.set(key, { body, state: "sent" });
      if (outcome.state === "refused") done.set(key, { body, state: "refused" });
      if (key === own) continue;
      if (outcome.state === "refused") {
        error.textContent = t("The clinic could not accept the session you logged on {when}. Please log it again.", { when: when.format(body.done_at * 1000) });
      } else if (outcome.state === "sent") {
        status.textContent = t("Your sessions saved on this phone were sent.");
      }
    }
    render();
  };
  const flush = async (own = null) => {
    const outcomes = await queue.flush();
    report(outcomes, own);
    return outcomes;
  };

  const save = form.querySelector("[type=submit]");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (save.disabled) return; // a second tap while the first is on its way
    error.textContent = "";
    const body = collect(form, exercises, error);
    if (!body) return;
    save.disabled = true;
    queue.add(body);
    resetForm(form, exercises);
    status.textContent = t("Saving…");
    const high = body.entries.some((e) => e.pain !== undefined && e.pain >= highPain);
    if (high) showAlert(alertBox);
    else alertBox.hidden = true;
    // Not reached when an older session stopped the round: it waits for the same reason.
    const outcome = await flush(body.client_key)
      .then((all) => all.get(body.client_key) || [...all.values()].find((o) => o.state === "kept"))
      .catch(() => null).finally(() => { save.disabled = false; }) || { state: "kept", reason: "busy" };
    if (outcome.state === "sent") {
      status.textContent = t("Saved. Your therapist will see it when they next review your log.");
      if (!high && outcome.result?.flags?.length) showAlert(alertBox);
    } else if (outcome.state === "refused") {
      status.textContent = "";
      error.textContent = t("The clinic could not accept this session. Please check it and log it again.");
    } else if (outcome.reason === "link") {
      status.textContent = t("Saved on this phone. Your link no longer opens your plan of care: open the newest link the clinic sent you, and it will be sent.");
    } else if (outcome.reason === "offline") {
      status.textContent = t("Saved on this phone; it will be sent when you are back online.");
    } else {
      status.textContent = t("Saved on this phone. The clinic could not take it just now; it will be sent again shortly.");
    }
  });

  keepSending(flush, queue);
  return queue;
}

/** Send the queue now, when the phone is back online, and every RETRY_MS while it holds any. */
function keepSending(flush, queue) {
  window.addEventListener("online", () => flush());
  setInterval(() => { if (queue.entries().length) flush(); }, RETRY_MS);
  if (queue.entries().length) flush();
}

/** Her pain and repetitions, asked of what she did (done or partly), not of what she skipped. */
function showPain(fieldset, shown) {
  const scale = fieldset.querySelector(".scale");
  scale.hidden = !shown;
  scale.disabled = !shown;
  if (!shown) for (const input of scale.querySelectorAll("input")) input.checked = false;
  const count = fieldset.querySelector(".log-count");
  count.hidden = !shown;
  const reps = count.querySelector("input");
  reps.disabled = !shown;
  if (!shown) {
    reps.value = "";
    clearCounted(fieldset);
  }
}

/**
 * What the camera counted, into an exercise's entry: done (unless she chose already), the
 * repetitions (she may correct them) and a line with the count and best value, which are
 * sent as measured. `counted`: {measurement, reps, peak, line} from care-count.js.
 */
export function fillCounted(fieldset, counted) {
  const id = fieldset.dataset.assignment;
  if (!checked(fieldset, `status-${id}`) || checked(fieldset, `status-${id}`) === "skipped") {
    const done = fieldset.querySelector(`input[name="status-${id}"][value="done"]`);
    done.checked = true;
    showPain(fieldset, true);
  }
  fieldset.querySelector(`input[name="reps-${id}"]`).value = String(counted.reps);
  clearCounted(fieldset);
  if (counted.peak !== null) {
    fieldset.dataset.measurement = counted.measurement;
    fieldset.dataset.measuredPeak = String(counted.peak);
  }
  const line = fieldset.querySelector(".log-counted");
  line.querySelector(".log-counted-text").textContent = counted.line;
  line.hidden = false;
  line.querySelector(".log-counted-remove").hidden = counted.peak === null;
}

function clearCounted(fieldset) {
  delete fieldset.dataset.measurement;
  delete fieldset.dataset.measuredPeak;
  const line = fieldset.querySelector(".log-counted");
  line.hidden = true;
  line.querySelector(".log-counted-text").textContent = "";
}

function showAlert(box) {
  box.hidden = false;
  box.focus({ preventScroll: true });
}

function resetForm(form, exercises) {
  form.reset();
  for (const fieldset of exercises) showPain(fieldset, false);
}

function checked(scope, name) {
  const input = scope.querySelector(`input[name="${name}"]:checked`);
  return input ? input.value : null;
}

/** The session as the server takes it, or null (the error says what is missing). */
function collect(form, exercises, error) {
  const entries = [];
  for (const fieldset of exercises) {
    const id = fieldset.dataset.assignment;
    const status = checked(fieldset, `status-${id}`);
    if (!status) continue;
    const entry = { assignment_id: Number(id), status };
    if (WITH_PAIN.has(status)) {
      const pain = checked(fieldset, `pain-${id}`);
      if (pain === null) {
        const name = fieldset.querySelector("legend").textContent.trim();
        error.textContent = t("Say how much “{name}” hurt, from 0 to 10.", { name });
        fieldset.querySelector(".scale").querySelector("input")?.focus();
        return null;
      }
      entry.pain = Number(pain);
      const reps = fieldset.querySelector(`input[name="reps-${id}"]`);
      const count = reps.value.trim() === "" ? null : Number(reps.value);
      const most = Number(reps.max); // the server's limit, in the field (measurements.json `limits`)
      if (reps.validity.badInput || (count !== null && !(Number.isInteger(count) && count >= 0 && count <= most))) {
        const name = fieldset.querySelector("legend").textContent.trim();
        error.textContent = t("Repetitions of “{name}”: a whole number from 0 to {max}, or leave it empty.", { name, max: most });
        reps.focus();
        return null;
      }
      if (count !== null) entry.reps = count;
      const { measurement, measuredPeak } = fieldset.dataset;
      if (measurement && measuredPeak) {
        entry.measurement = measurement;
        entry.measured_peak = Number(measuredPeak);
      }
    }
    entries.push(entry);
  }
  if (!entries.length) {
    error.textContent = t("Tap Done, Partly or Skipped for at least one exercise.");
    exercises[0]?.querySelector("input")?.focus();
    return null;
  }
  const body = { client_key: newClientKey(), done_at: Math.floor(Date.now() / 1000), entries };
  const effort = checked(form, "effort");
  if (effort !== null) body.effort = Number(effort);
  // One line of plain text: the server refuses line breaks and other control characters.
  const note = form.elements.note.value.replace(/[\s\u0000-\u001f\u007f-\u009f]+/g, " ").trim().slice(0, NOTE_MAX);
  if (note) body.note = note;
  return body;
}

function renderRecent(list, empty, waiting, done) {
  const rows = [
    ...waiting.map((body) => ({ body, state: "waiting" })),
    ...[...done.values()].filter((row) => !waiting.some((b) => b.client_key === row.body.client_key)),
  ].sort((a, b) => b.body.done_at - a.body.done_at).slice(0, RECENT);
  empty.hidden = rows.length > 0;
  list.replaceChildren(...rows.map(({ body, state }) => {
    const item = document.createElement("li");
    item.classList.add("recent-item", `recent-${state}`);
    item.dataset.testid = "recent-session";
    item.dataset.state = state;
    item.dataset.key = body.client_key;
    const moment = document.createElement("span");
    moment.className = "recent-when";
    moment.textContent = when.format(body.done_at * 1000);
    const badge = document.createElement("span");
    badge.className = "recent-badge";
    badge.textContent = state === "sent" ? t("Sent") : state === "refused" ? t("Not accepted") : t("Waiting to send");
    const what = document.createElement("span");
    what.className = "recent-what";
    what.textContent = summary(body);
    item.append(moment, badge, what);
    return item;
  }));
}

function summary(body) {
  const count = (status) => body.entries.filter((e) => e.status === status).length;
  const pains = body.entries.filter((e) => e.pain !== undefined).map((e) => e.pain);
  const parts = t("{done} done, {partly} partly, {skipped} skipped", { done: count("done"), partly: count("partly"), skipped: count("skipped") });
  return pains.length ? t("{parts}; highest pain {pain} of 10", { parts, pain: Math.max(...pains) }) : parts;
}
