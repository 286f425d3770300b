// The connection check: a short call with the server's echo peer, measuring round trip and loss.
import { t } from "./i18n.js";
import { grade } from "./quality.js";

// A refusal in the page's own words, by the server's error code (its English message is
// for logs; docs/protocol.md, server/auth/access.py api_refusal); any other code reads as
// "not available". `busy` is the server's and the visit's share alike (one code).
const refusal = (code) => {
  const words = {
    busy: () => t("The connection check is busy; try again in a minute."),
    visit_ended: () => t("This visit has ended; the connection check is closed."),
    denied: () => t("The therapist did not let this link into the visit."),
    no_visit_session: () => t("Open the visit link first."),
    bad_origin: () => t("This check only serves the clinic's own pages."),
    revoked: () => t("This visit link no longer opens the visit: it was replaced or withdrawn."),
    expired: () => t("This visit link no longer opens the visit: the visit is over."),
    cancelled: () => t("This visit link no longer opens the visit: the visit was cancelled."),
    link_in_use: () => t("This link is in use on another device; ask the clinic for a new link."),
    staff_sign_in: () => t("Sign in with the staff account this visit is booked with."),
    wrong_account: () => t("This visit is booked with another staff account."),
  };
  return Object.hasOwn(words, code) ? words[code]() : t("The check is not available.");
};

export async function connectionCheck(visitId, stream, seconds = 4) {
  const pc = new RTCPeerConnection();
  const result = { rttMs: null, lossPct: null, grade: "unknown" };
  let pinger = null;
  try {
    if (stream) stream.getTracks().forEach((t) => pc.addTrack(t, stream));
    else pc.addTransceiver("audio", { direction: "recvonly" });
    const channel = pc.createDataChannel("echo");
    const rtts = [];
    channel.addEventListener("open", () => {
      const tick = () => channel.readyState === "open" && channel.send(JSON.stringify({ type: "ping", t: performance.now() }));
      tick();
      pinger = setInterval(tick, 500);
    });
    channel.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "ping") rtts.push(performance.now() - message.t);
      if (message.type === "echo-stats" && message.loss_pct != null) result.lossPct = message.loss_pct;
    });
    await pc.setLocalDescription();
    await new Promise((resolve) => {
      if (pc.iceGatheringState === "complete") return resolve();
      pc.addEventListener("icegatheringstatechange", () => pc.iceGatheringState === "complete" && resolve());
      setTimeout(resolve, 2000);
    });
    const response = await fetch(`/visits/${visitId}/echo`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ type: "offer", sdp: pc.localDescription.sdp }),
    });
    const body = await response.json();
    if (!response.ok) return { ...result, error: refusal(body.error?.code) };
    await pc.setRemoteDescription({ type: "answer", sdp: body.sdp });
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    if (rtts.length) result.rttMs = rtts.sort((a, b) => a - b)[Math.floor(rtts.length / 2)];
    result.grade = grade(result);
    return result;
  } catch (err) {
    return { ...result, error: t("The check could not run on this network.") };
  } finally {
    // Every path (success, refusal, failure, timeout) stops the pings.
    clearInterval(pinger);
    pc.close();
  }
}
