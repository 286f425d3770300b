// The waiting patient's view of her therapist now (templates/visit/_presence.html): not here
// yet, here, or in another visit's call; her "running late" note; the time to the start.
// Where the therapist is in this visit and her note come from the room (`presence`); whether
// she is in another visit's call, and her note as stored (set from her dashboard too), the
// page asks the server every 20 s while she is away (GET /visits/{id}/presence). A change
// of either is announced; the countdown is not.
import { $, announce } from "./call-page.js";
import { t } from "./i18n.js";

const TICK_MS = 30_000;
const ASK_MS = 20_000;

function statusText(where) {
  if (where === "here") return t("Your therapist is here and will let you in shortly.");
  if (where === "busy") return t("Your therapist is finishing another visit.");
  return t("Your therapist has not joined yet.");
}

function noteText(note) {
  const time = new Date(note.at * 1000).toLocaleTimeString(document.documentElement.lang || [], { hour: "numeric", minute: "2-digit" });
  return t("Your therapist said at {time}: running about {minutes} minutes late.", { time, minutes: note.minutes });
}

function validNote(note) {
  return note && Number.isInteger(note.minutes) && Number.isFinite(note.at) ? note : null;
}

export function startText(startsAt, now = Date.now()) {
  const minutes = Math.round((startsAt * 1000 - now) / 60_000);
  if (minutes === 0) return t("Your visit starts now.");
  if (minutes === 1) return t("Your visit starts in 1 minute.");
  if (minutes > 1) return t("Your visit starts in {minutes} minutes.", { minutes });
  if (minutes === -1) return t("Your visit was due to start 1 minute ago.");
  return t("Your visit was due to start {minutes} minutes ago.", { minutes: -minutes });
}

export function presenceView(call, { visitId }) {
  const box = $("presence");
  if (!box) return;
  const startsAt = Number(box.dataset.startsAt);
  let pushed = "away"; // from the room: here or away
  let busy = false; // from the server: in another visit's call
  let note = null;
  let said = null; // what was last shown, to announce changes only
  let asking = null;
  let ticking = null;

  const waiting = () => call.status === "waiting" && !call.admitted;
  function render({ quiet = false } = {}) {
    const where = pushed === "here" ? "here" : busy ? "busy" : "away";
    box.dataset.therapist = where;
    $("presence-status").textContent = statusText(where);
    // Her note matters while she is not here; once here, she lets the patient in.
    const shown = note && where !== "here" ? noteText(note) : "";
    $("presence-note").textContent = shown;
    $("presence-note").hidden = !shown;
    const now = `${where}|${shown}`;
    if (said !== null && now !== said && !quiet) announce([statusText(where), shown].filter(Boolean).join(" "));
    said = now;
  }
  function tick() {
    if (Number.isFinite(startsAt)) $("presence-start").textContent = startText(startsAt);
  }
  async function ask({ again = true } = {}) {
    if (!waiting() || pushed === "here") return;
    try {
      const response = await fetch(`/visits/${encodeURIComponent(visitId)}/presence`, { headers: { Accept: "application/json" } });
      // 409: the server does not see her waiting yet (with several processes, the room's
      // news can reach it a moment after her page): once more, shortly.
      if (response.status === 409 && again) setTimeout(() => ask({ again: false }), 2000);
      if (!response.ok) return;
      const body = await response.json();
      busy = body.busy === true;
      // Her note as stored: she may have set it from her dashboard, which the room does
      // not hear of (its next `presence` reads it too).
      if ("note" in body) note = validNote(body.note);
      render();
    } catch {
      // No answer: the page keeps what it showed.
    }
  }
  function follow() {
    const on = waiting();
    if (on && !ticking) {
      tick();
      ticking = setInterval(tick, TICK_MS);
      asking = setInterval(() => ask(), ASK_MS);
    } else if (!on && ticking) {
      clearInterval(ticking);
      clearInterval(asking);
      ticking = asking = null;
    }
  }

  call.addEventListener("presence", ({ detail: m }) => {
    const before = pushed;
    pushed = m.therapist === "here" ? "here" : "away";
    if ("note" in m) note = validNote(m.note); // (left out while the server cannot read it)
    if (pushed === "here") busy = false;
    render();
    if (before === "here" && pushed === "away") ask();
  });
  call.addEventListener("status", () => {
    follow();
    if (!waiting()) said = null; // back in the waiting room later: its first word is not news
  });
  call.addEventListener("admitted", follow);
  tick();
  render({ quiet: true });
  said = null;
  // The first answer comes with the room's first `presence`; ask at once for the busy part.
  call.addEventListener("presence", () => ask(), { once: true });
}
