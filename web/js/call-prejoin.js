// Before joining: the self view, the device check (pickers, microphone level, speaker
// test, connection check) and what to do when the camera or microphone fails.
import { $, announce } from "./call-page.js";
import { t } from "./i18n.js";
import { gradeText } from "./quality.js";

export function prejoinView({ visitId, media, join }) {
  // The self view follows the camera (on, off, the other one) and the devices.
  media.addEventListener("change", ({ detail: source }) => {
    if (source === "microphone") return;
    const video = $("local-video");
    video.srcObject = media.stream;
    const hasVideo = !!media.sending("camera");
    video.hidden = !hasVideo;
    $("no-camera").hidden = hasVideo;
    video.classList.toggle("mirrored", media.devices.facing === "user");
  });

  async function start(options = {}) {
    await media.start(options);
    const devices = media.devices;
    devices.meter($("mic-level"));
    const cams = await devices.fillPickers({ camera: $("pick-camera"), microphone: $("pick-microphone"), speaker: $("pick-speaker") });
    $("switch-camera").hidden = cams < 2;
    const problem = devices.problem();
    // Opened over plain http from another device, the page is no secure context and the
    // browser offers no camera at all: no permission step helps, only an https link.
    const insecure = !!problem && !window.isSecureContext;
    $("insecure-help").hidden = !insecure;
    const help = $("permission-help");
    help.hidden = !problem || insecure;
    const joinButton = $("join-button");
    if (!problem) {
      joinButton.textContent = t("Join visit");
    } else {
      const audioOnly = !!media.track("microphone");
      $("permission-title").textContent = problem === "denied"
        ? t("Your camera or microphone is blocked")
        : problem === "missing" ? t("No camera or microphone found") : t("Your camera or microphone is in use");
      $("permission-text").textContent = (audioOnly ? t("Your microphone works, but the camera does not.") + " " : "")
        + (problem === "denied"
          ? t("Allow the camera and microphone for this page (steps below), then press “Try again”. You can also join without them.")
          : t("Check that they are connected and not used by another app, then press “Try again”. You can also join without them."));
      joinButton.textContent = audioOnly ? t("Join with audio only") : t("Join without camera or microphone");
    }
  }

  $("retry-media").addEventListener("click", () => start());
  for (const id of ["pick-camera", "pick-microphone"]) {
    $(id).addEventListener("change", () => start({ videoId: $("pick-camera").value || undefined, audioId: $("pick-microphone").value || undefined }));
  }
  $("speaker-test").addEventListener("click", async () => {
    await media.devices.chime($("pick-speaker").value);
    $("speaker-question").hidden = false;
    $("speaker-advice").hidden = true;
  });
  $("speaker-yes").addEventListener("click", () => { $("speaker-question").hidden = true; announce(t("Speaker works.")); });
  $("speaker-no").addEventListener("click", () => { $("speaker-question").hidden = true; $("speaker-advice").hidden = false; });
  $("check-connection").addEventListener("click", async () => {
    const out = $("check-result");
    out.textContent = t("Checking your connection…");
    $("check-connection").disabled = true;
    // The check's module loads when asked for: most people never press the button.
    const result = await import("./echo-check.js").then((m) => m.connectionCheck(visitId, media.stream),
      () => ({ grade: "unknown", error: t("The check could not run on this network.") }));
    $("check-connection").disabled = false;
    out.dataset.grade = result.grade;
    out.textContent = result.error || t("Connection: {grade} (round trip {rtt}, loss {loss}).", {
      grade: gradeText(result.grade),
      rtt: result.rttMs != null ? t("{ms} ms", { ms: Math.round(result.rttMs) }) : t("unknown"),
      loss: result.lossPct != null ? result.lossPct.toFixed(1) + "%" : t("unknown"),
    });
  });
  $("join-button").addEventListener("click", join);
  $("rejoin-button").addEventListener("click", join);
  return { start };
}
