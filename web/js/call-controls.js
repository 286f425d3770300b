// The buttons of the call: mute, camera off, the other camera, leave, and the therapist's
// end visit.
import { $, announce } from "./call-page.js";

const TOGGLES = {
  microphone: ["mute-button", "Mute", "Unmute", "Mute microphone", "Unmute microphone", "Microphone on", "Microphone muted"],
  camera: ["camera-button", "Camera off", "Camera on", "Turn camera off", "Turn camera on", "Camera on", "Camera off"],
};

export function controlsView({ media, connection }) {
  for (const [source, [id, onText, offText, onLabel, offLabel, saidOn, saidOff]] of Object.entries(TOGGLES)) {
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
  $("leave-button").addEventListener("click", () => connection.leave());
  $("end-visit-button")?.addEventListener("click", () => connection.send({ type: "end-visit" }));
}
