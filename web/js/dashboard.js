// The staff dashboard: today's visit statuses (scheduled, waiting, in call, ended) kept live.
const LABELS = { scheduled: "scheduled", waiting: "patient waiting", in_call: "in call", ended: "ended", cancelled: "cancelled" };
const cells = new Map([...document.querySelectorAll("[data-live-status]")].map((el) => [el.dataset.visit, el]));
const announcer = document.getElementById("dashboard-announcer");

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
    const cell = cells.get(visit.id);
    if (!cell || cell.dataset.state === visit.live) continue;
    const before = cell.dataset.state;
    cell.dataset.state = visit.live;
    cell.className = `status status-${visit.live}`;
    cell.textContent = LABELS[visit.live] || visit.live;
    if (before && visit.live === "waiting" && announcer) {
      const when = cell.closest("tr").querySelector("td").textContent.trim();
      announcer.textContent = `A patient is waiting for the visit at ${when}.`;
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
