// Library and home-program pages: mount a live demo in every demo panel, and the print button.
import { mountDemo } from "./demo.js";

for (const panel of document.querySelectorAll(".demo-panel[data-exercise]")) {
  // In the page's language (her choice or her record's), whatever her browser asks for.
  const response = await fetch(`/api/library/exercises/${panel.dataset.exercise}`,
    { headers: { Accept: "application/json", "Accept-Language": document.documentElement.lang } });
  if (!response.ok) continue;
  const exercise = await response.json();
  mountDemo(panel, { poses: exercise.poses, exercise });
  panel.dataset.ready = "true";
}
document.getElementById("print-program")?.addEventListener("click", () => window.print());
