// The visit page: device check, waiting room, call, leaving and ending. It only wires the
// call state, the connection, local media and the views that listen to them.
import { chatView } from "./call-chat.js";
import { CallConnection } from "./call-connection.js";
import { CallDemo } from "./call-demo.js";
import { controlsView } from "./call-controls.js";
import { CallMedia } from "./call-media.js";
import { messageHandlers } from "./call-messages.js";
import { $, root, statusView } from "./call-page.js";
import { prejoinView } from "./call-prejoin.js";
import { CallState } from "./call-state.js";
import { indicatorsView, tilesView } from "./call-stage.js";

const { visitId, role, otherName } = root.dataset;
const call = new CallState({ visitId, role, otherName });
const media = new CallMedia();
const send = (msg) => connection.send(msg);
const demo = new CallDemo({ role, area: $("demo-area"), send });
const connection = new CallConnection({ state: call, media, handlers: (c) => messageHandlers(c, { demo }) });
// The therapist's own views (waiting room, library) load on her page only: a patient's
// phone never downloads them. The socket opens once they are wired.
const therapistViews = role === "therapist"
  ? import("./call-therapist.js").then((views) => views.therapistViews({ call, media, send, demo, root, visitId }))
  : null;
// Measuring is wired once the call is under way.
call.addEventListener("admitted", () => import("./call-measure-route.js")
  .then((m) => m.routeMeasuring(call, { role, root, views: therapistViews })), { once: true });

// The waiting room's word on her therapist (here or not, her late note, the time to the
// start) loads beside the page's first modules, and is wired before the socket opens.
const presence = role !== "therapist"
  ? import("./call-presence.js").then(({ presenceView }) => presenceView(call, { visitId })).catch((err) => console.warn("presence:", err))
  : null;

// A patient whose visit is part of a plan of care may fill its questionnaires while she waits.
const waitingCare = $("waiting-care");
if (waitingCare) {
  import("./care-questionnaires.js").then(({ setUpQuestionnaires }) => setUpQuestionnaires(waitingCare, waitingCare.dataset.base))
    .catch((err) => console.warn("questionnaires:", err));
}

statusView(call);
tilesView(call);
indicatorsView(call);
controlsView({ media, connection });
chatView(call, { send, me: root.dataset.participant });
const prejoin = prejoinView({ visitId, media, join: () => connection.join() });
call.addEventListener("status", (e) => { if (e.detail.state === "ended") demo.hide(); });
// The demo renderer loads once the call is under way, so a demo shown then is not waited for.
call.addEventListener("admitted", () => demo.preload(), { once: true });
// A handle for diagnostics and tests: the signaling trace (types only) and the peers.
window.visitroomCall = {
  dropSocket: () => connection.signaling?.drop(), peers: call.peers, trace: connection.trace, sent: connection.sent, demoLoops: () => demo.loops(),
};

connection.ready = Promise.all([prejoin.start().catch((err) => console.warn("media:", err)), therapistViews, presence]);
const [, views] = await connection.ready;
views?.library.load().catch((err) => console.warn("library:", err));
root.dataset.ready = "true";
if (role === "therapist") demo.preload();
if (sessionStorage.getItem(connection.rejoinKey)) connection.join();
