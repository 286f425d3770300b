// The exercise page: mount the live demo from the exercise's JSON.
import { mountDemo } from "./demo.js";

const panel = document.querySelector("[data-testid=demo-view]");
if (panel) {
  const slug = panel.dataset.exercise;
  const response = await fetch(`/api/library/exercises/${slug}`, { headers: { Accept: "application/json" } });
  if (response.ok) {
    const exercise = await response.json();
    mountDemo(panel, { poses: exercise.poses, exercise });
    panel.dataset.ready = "true";
  }
}
