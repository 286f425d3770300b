// The therapist's own views of the call page, loaded on her page only: the waiting room, the
// library panel (demos, the home program) and the measure panel.
import { lobbyView } from "./call-lobby.js";
import { LibraryPanel } from "./call-library.js";
import { MeasurePanel } from "./call-measure.js";
import { $ } from "./call-page.js";

export function therapistViews({ call, media, send, demo, root, visitId }) {
  lobbyView(call, { media, send });
  const measure = new MeasurePanel({ root, panel: $("measure-panel"), call, visitId });
  const library = new LibraryPanel({
    root: $("library"), visitId, measure, onShow: async (slug) => {
      if (await demo.show(slug)) send({ type: "demo-show", exercise: slug });
    },
  });
  return { library, measure };
}
