// Network quality of a call from getStats: round trip, packet loss (of what arrives, and of
// what this side sends as the other side reports it), bitrate → good/fair/poor.
import { t } from "./i18n.js";

// A grade as the page says it.
export const gradeText = (g) => ({ good: t("good"), fair: t("fair"), poor: t("poor") })[g] || t("unknown");

export function grade({ rttMs, lossPct, lossOutPct }) {
  if (rttMs == null && lossPct == null) return "unknown";
  const loss = Math.max(lossPct ?? 0, lossOutPct ?? 0);
  if ((rttMs ?? 0) > 400 || loss > 8) return "poor";
  if ((rttMs ?? 0) > 200 || loss > 3) return "fair";
  return "good";
}

export class QualityMonitor {
  constructor(pc) {
    this.pc = pc;
    this.last = null;
  }

  // One sample: {rttMs, lossPct, lossOutPct, kbpsIn, kbpsOut, grade}. A weak uplink shows
  // in lossOutPct only (the receiver's reports of what this side sent).
  async sample() {
    const report = await this.pc.getStats();
    let rtt = null, received = 0, lost = 0, bytesIn = 0, bytesOut = 0, sent = 0, lostOut = 0;
    report.forEach((s) => {
      if (s.type === "candidate-pair" && s.nominated && s.currentRoundTripTime != null) rtt = s.currentRoundTripTime * 1000;
      if (s.type === "inbound-rtp") { received += s.packetsReceived || 0; lost += Math.max(0, s.packetsLost || 0); bytesIn += s.bytesReceived || 0; }
      if (s.type === "outbound-rtp") { bytesOut += s.bytesSent || 0; sent += s.packetsSent || 0; }
      if (s.type === "remote-inbound-rtp") lostOut += Math.max(0, s.packetsLost || 0);
    });
    const now = performance.now();
    let lossPct = null, lossOutPct = null, kbpsIn = null, kbpsOut = null;
    if (this.last) {
      const seconds = (now - this.last.at) / 1000;
      const dReceived = received - this.last.received, dLost = lost - this.last.lost;
      lossPct = dReceived + dLost > 0 ? (100 * dLost) / (dReceived + dLost) : 0;
      const dSent = sent - this.last.sent, dLostOut = Math.max(0, lostOut - this.last.lostOut);
      lossOutPct = dSent > 0 ? Math.min(100, (100 * dLostOut) / dSent) : 0;
      kbpsIn = ((bytesIn - this.last.bytesIn) * 8) / 1000 / seconds;
      kbpsOut = ((bytesOut - this.last.bytesOut) * 8) / 1000 / seconds;
    }
    this.last = { at: now, received, lost, bytesIn, bytesOut, sent, lostOut };
    const figures = { rttMs: rtt, lossPct, lossOutPct, kbpsIn, kbpsOut };
    return { ...figures, grade: grade(figures) };
  }
}
