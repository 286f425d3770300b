// The connection check: a short call with the server's echo peer, measuring round trip and loss.
import { grade } from "./quality.js";

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
    if (!response.ok) return { ...result, error: body.error?.message || "The check is not available." };
    await pc.setRemoteDescription({ type: "answer", sdp: body.sdp });
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    if (rtts.length) result.rttMs = rtts.sort((a, b) => a - b)[Math.floor(rtts.length / 2)];
    result.grade = grade(result);
    return result;
  } catch (err) {
    return { ...result, error: "The check could not run on this network." };
  } finally {
    // Every path (success, refusal, failure, timeout) stops the pings.
    clearInterval(pinger);
    pc.close();
  }
}
