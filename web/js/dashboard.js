// The staff dashboard: today's visit statuses (scheduled, waiting, in call, ended) kept live,
// and for a visit with someone waiting, for how long (the row names the patient).
const LABELS = { scheduled: "scheduled", waiting: "patient waiting", in_call: "in call", ended: "ended", cancelled: "cancelled" };
const cells = new Map([...document.querySelectorAll("[data-live-status]")].map((el) => [el.dataset.visit, el]));
const announcer = document.getElementById("dashboard-announcer");
const waits = new Map([...document.querySelectorAll("[data-waiting-for]")].map((el) => [el.dataset.visit, el]));

function waitedFor(since) {
  const minutes = Math.max(0, Math.floor((Date.now() / 1000 - since) / 60));
  return minutes < 1 ? "waiting less than a minute" : minutes === 1 ? "waiting 1 minute" : `waiting ${minutes} minutes`;
}

async function refresh() {
  if (!cells.size) return;
  let body;
  try {
    const response = await fetch("/admin/live.json", { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    body = await response.json();
  } catch {
    return;
  }
  for (const visit of body.visits) {
    const wait = waits.get(visit.id);
    if (wait) {
      const since = visit.live === "waiting" && Number.isFinite(visit.waiting_since) ? visit.waiting_since : null;
      wait.textContent = since === null ? "" : `(${waitedFor(since)})`;
    }
    const cell = cells.get(visit.id);
    if (!cell || cell.dataset.state === visit.live) continue;
    const before = cell.dataset.state;
    cell.dataset.state = visit.live;
    cell.className = `status status-${visit.live}`;
    cell.textContent = LABELS[visit.live] || visit.live;
    if (before && visit.live === "waiting" && announcer) {
      const [when, who] = [...cell.closest("tr").querySelectorAll("td")].map((td) => td.textContent.trim());
      announcer.textContent = `${who || "A patient"} is waiting for the visit at ${when}.`;
    }
  }
}

for (const [, cell] of cells) cell.dataset.state = cell.className.replace(/.*status-/, "");
// Poll only while the tab is shown; a tab shown again refreshes at once.
const POLL_MS = 4000;
let poller = null;
function follow() {
  clearInterval(poller);
  poller = null;
  if (document.visibilityState === "hidden") return;
  refresh();
  poller = setInterval(refresh, POLL_MS);
}
document.addEventListener("visibilitychange", follow);
follow();
