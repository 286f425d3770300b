// The call page's frame: its elements by id, the screen-reader announcer, which panels
// show, and the call's state as the person sees and hears it (status chip, notices, the
// closing panels: left, ended, denied).
import { t } from "./i18n.js";

export const $ = (id) => document.getElementById(id);
export const root = $("call-root");
const PANELS = ["prejoin", "waiting", "stage", "lobby", "library", "controls", "left", "ended", "denied"];

export function announce(text) {
  const el = $("announcer");
  el.textContent = "";
  setTimeout(() => { el.textContent = text; }, 50);
}

// Announce what a peer's page says about itself (its screen share, its video step) at most
// once every two seconds a peer: a peer toggling fast, or lying, cannot flood the screen
// reader; the last thing it said in the window is announced when the window ends.
const PEER_ANNOUNCE_MS = 2000;
const peerAnnouncements = new Map();
export function announceFrom(peer, text) {
  const entry = peerAnnouncements.get(peer);
  if (entry) { entry.text = text; return; }
  announce(text);
  const next = { text: null };
  peerAnnouncements.set(peer, next);
  setTimeout(() => {
    peerAnnouncements.delete(peer);
    if (next.text !== null) announceFrom(peer, next.text);
  }, PEER_ANNOUNCE_MS);
}

// Show these panels and hide the rest; data-view names the layout the stylesheet applies
// (the call's layout whenever the video stage is up, else the one panel shown).
function show(...visible) {
  for (const id of PANELS) if ($(id)) $(id).hidden = !visible.includes(id);
  root.dataset.view = visible.includes("stage") ? "call" : visible[0] || "none";
}

export function statusView(call) {
  const therapist = call.role === "therapist";
  const TEXT = {
    prejoin: t("Getting ready"), waiting: therapist ? t("Waiting for your patient") : t("In the waiting room"),
    connecting: t("Connecting…"), connected: t("Connected"), reconnecting: t("Reconnecting…"), ended: t("Visit ended"),
  };
  const inCall = therapist ? ["stage", "lobby", "library", "controls"] : ["stage", "controls"];

  call.addEventListener("status", ({ detail: { state, panel, reason } }) => {
    if (panel === "denied") show("denied");
    else if (panel === "ended") {
      $("ended-text").textContent = reason === "replaced"
        ? t("This visit is now open in another tab or window.")
        : reason === "moved"
          ? t("This call moved to another device that opened your link. If that was not you, tell the clinic now.")
          : t("Thank you. You can close this page.");
      show("ended");
    }
    const chip = $("call-state");
    // An admitted patient alone in the call (her therapist's socket is moving) is not in
    // the waiting room: she waits in the call.
    const text = state === "waiting" && call.admitted && !therapist ? t("Waiting for your therapist") : TEXT[state];
    if (chip.dataset.state !== state || chip.textContent !== text) announce(text);
    chip.dataset.state = state;
    chip.textContent = text;
    root.dataset.state = panel || state;
    if (panel === "left") {
      show("left");
      announce(t("You left the visit. You can rejoin while it lasts."));
    }
    if (panel) return;
    if (state === "prejoin") show("prejoin");
    else if (state === "waiting" && !call.admitted) show("waiting");
    else if (state !== "ended") show(...inCall);
  });
  call.addEventListener("admitted", () => { $("waiting-notice").hidden = true; });
  call.addEventListener("notice", ({ detail: { id, text } }) => {
    const el = $(id);
    el.textContent = text;
    el.hidden = false;
    announce(text);
  });
  call.addEventListener("announce", (e) => announce(e.detail));
}
