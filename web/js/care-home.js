// Her plan-of-care home page: wires the exercise log, counting with the camera, the
// questionnaires and the reminder time. The demos are mounted by library-demo.js, as on the
// home-program page.
import { t } from "./i18n.js";
import { fillCounted, setUpLog } from "./care-log.js";
import { setUpQuestionnaires } from "./care-questionnaires.js";

const root = document.getElementById("care-home");

/** The reminder form: a time of day, or no reminder, saved as a minute of the day. */
function setUpReminder(form, planId) {
  const time = form.querySelector("#reminder-time");
  const off = form.querySelector("#reminder-off");
  const status = form.querySelector("#reminder-status");
  off.addEventListener("change", () => {
    time.disabled = off.checked;
    if (!off.checked) time.focus();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const match = /^(\d{2}):(\d{2})/.exec(time.value);
    if (!off.checked && !match) {
      status.textContent = t("Choose a time, or tick No reminder.");
      time.focus();
      return;
    }
    const minute = off.checked ? null : Number(match[1]) * 60 + Number(match[2]);
    status.textContent = t("Saving…");
    try {
      const response = await fetch(`/care/${encodeURIComponent(planId)}/reminder`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ minute }),
        credentials: "same-origin",
        signal: AbortSignal.timeout(15000),
      });
      if (!response.ok) throw new Error(`reminder ${response.status}`);
      status.textContent = minute === null ? t("Saved: no reminder.")
        : t("Saved: a reminder each day at {time}.", { time: time.value.slice(0, 5) });
      form.dataset.saved = minute === null ? "none" : String(minute);
    } catch {
      status.textContent = t("Not saved. Check your connection and try again.");
    }
  });
}

/** "Count with camera" on an exercise: the sheet (care-count.js, loaded with the first tap)
 * counts, and what it counted goes into that exercise's log entry for her to check. */
function setUpCounting(root) {
  let counter = null;
  for (const button of root.querySelectorAll("[data-testid=care-count]")) {
    const said = button.parentElement.querySelector(".count-done");
    button.addEventListener("click", async () => {
      said.textContent = "";
      counter ??= import("./care-count.js").then(({ CameraCount }) => new CameraCount(root));
      let result;
      try {
        const sheet = await counter;
        // The exercise's own "Stop if" lines (the library's, pregnancy rule included) go on the sheet.
        const stopIf = button.closest("[data-testid=care-exercise]")?.querySelector("[data-testid=care-stop-if]")?.textContent || "";
        result = await sheet.open({ measurement: button.dataset.measurement, exercise: button.dataset.exercise, name: button.dataset.name, opener: button, stopIf });
      } catch (err) {
        console.warn("counting:", err?.message);
        counter = null;
        said.textContent = t("Counting could not start. Check your connection and try again.");
        return;
      }
      if (!result) return;
      const fieldset = root.querySelector(`.log-exercise[data-assignment="${button.dataset.assignment}"]`);
      if (!fieldset) return;
      fillCounted(fieldset, result);
      said.textContent = t("Added to your log below: check it, then Save.");
    });
  }
}

// The page, its scripts and the pose model open again offline (web/sw/care-offline.js).
function keepForOffline() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/care/offline.js", { scope: "/care/" })
    .then(() => navigator.serviceWorker.ready)
    .then((registration) => registration.active?.postMessage({
      keep: [location.pathname, ...performance.getEntriesByType("resource").map((entry) => entry.name)],
    }))
    .catch((err) => console.warn("offline:", err?.message));
}

if (root) {
  keepForOffline();
  setUpLog(root);
  setUpCounting(root);
  const reminder = root.querySelector("#reminder-form");
  if (reminder) setUpReminder(reminder, root.dataset.plan);
  setUpQuestionnaires(root);
  root.dataset.ready = "true";
}
