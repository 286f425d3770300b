// Screen share: the Share screen button (hidden, with a note, where the browser cannot
// share: most phones), this page's "you are sharing" note, and the other side's screen as
// its own large tile while the camera stays a small one (the stage's data-sharing). The
// screen travels as one more source of CallMedia; negotiation.js sends and tells it apart.
// Loaded once the call is under way (call-controls.js, call-stage.js), not with the page.
import { CallMedia } from "./call-media.js";
import { $, announce, announceFrom } from "./call-page.js";
import { t } from "./i18n.js";

export function shareButton({ media, call }) {
  const button = $("share-button");
  if (!CallMedia.canShare) return; // call-controls.js shows the note
  button.hidden = false;
  button.addEventListener("click", async () => {
    if (media.track("screen")) {
      media.unshare();
      return;
    }
    try {
      await media.share();
    } catch (err) {
      // Cancelling the browser's dialog is a choice, not a failure.
      if (err.name !== "NotAllowedError" && err.name !== "AbortError") {
        call.emit("notice", { id: "call-notice", text: t("Your screen could not be shared. Try again, or pick another window.") });
      }
    }
  });
  media.addEventListener("change", ({ detail: source }) => {
    if (source !== "screen") return;
    const sharing = !!media.track("screen");
    button.setAttribute("aria-pressed", String(sharing));
    button.textContent = sharing ? t("Stop sharing") : t("Share screen");
    button.setAttribute("aria-label", sharing ? t("Stop sharing your screen") : t("Share your screen"));
    $("sharing-note").hidden = !sharing;
    announce(sharing ? t("You are sharing your screen.") : t("You stopped sharing your screen."));
  });
  // Leaving, the end of the visit or a return to the waiting room ends the share: nothing
  // is captured outside a call, and a call joined again starts without it.
  call.addEventListener("stopped", () => media.unshare());
  call.addEventListener("status", () => { if (!call.admitted) media.unshare(); });
}

// The tile of one peer's shared screen (call-stage.js makes one per peer): shown while
// that peer says it shares. Returns a function that removes it.
export function screenTile({ id, name, session }) {
  const video = document.createElement("video");
  Object.assign(video, { autoplay: true, playsInline: true, muted: true, hidden: true, srcObject: session.remoteScreen });
  video.dataset.testid = "remote-screen";
  video.dataset.peer = id;
  video.setAttribute("aria-label", t("Screen shared by {name}", { name }));
  const show = (sharing) => {
    if (video.hidden !== sharing) return;
    video.hidden = !sharing;
    if (sharing) video.play().catch(() => { /* muted: autoplay is allowed; it plays when frames come */ });
    markSharing();
    announceFrom(id, sharing ? t("{name} is sharing their screen.", { name }) : t("{name} stopped sharing their screen.", { name }));
  };
  session.addEventListener("screen", ({ detail: sharing }) => show(sharing));
  $("screens").append(video);
  show(session.remote.sharing); // told before this module loaded
  return () => {
    video.remove();
    markSharing();
  };
}

function markSharing() {
  $("stage").dataset.sharing = String(!!$("screens").querySelector("video:not([hidden])"));
}
