// The buttons of the call: mute, camera off, the other camera, share screen (call-share.js),
// leave, and the therapist's end visit.
import { CallMedia } from "./call-media.js";
import { $, announce } from "./call-page.js";
import { t } from "./i18n.js";

export function controlsView({ media, connection }) {
  const toggles = {
    microphone: ["mute-button", t("Mute"), t("Unmute"), t("Mute microphone"), t("Unmute microphone"), t("Microphone on"), t("Microphone muted")],
    camera: ["camera-button", t("Stop camera"), t("Start camera"), t("Turn camera off"), t("Turn camera on"), t("Camera on"), t("Camera off")],
  };
  for (const [source, [id, onText, offText, onLabel, offLabel, saidOn, saidOff]] of Object.entries(toggles)) {
    // Mute or camera off: nothing is sent for that source (replaceTrack(null)) until back on.
    $(id).addEventListener("click", () => {
      const off = media.toggle(source);
      const button = $(id);
      button.setAttribute("aria-pressed", String(off));
      button.textContent = off ? offText : onText;
      button.setAttribute("aria-label", off ? offLabel : onLabel);
      announce(off ? saidOff : saidOn);
    });
  }
  $("switch-camera").addEventListener("click", () => media.switchCamera());
  // Most phones cannot share a screen: a note says so. The button comes with the call.
  $("share-unavailable").hidden = CallMedia.canShare;
  connection.state.addEventListener("admitted", () => {
    import("./call-share.js").then(({ shareButton }) => shareButton({ media, call: connection.state }))
      .catch((err) => console.warn("share:", err));
  }, { once: true });
  $("leave-button").addEventListener("click", () => connection.leave());
  $("end-visit-button")?.addEventListener("click", () => connection.send({ type: "end-visit" }));
}
