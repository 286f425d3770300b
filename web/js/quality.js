// Network quality of a call from getStats: round trip, packet loss, bitrate → good/fair/poor.
import { t } from "./i18n.js";

// A grade as the page says it.
export const gradeText = (g) => ({ good: t("good"), fair: t("fair"), poor: t("poor") })[g] || t("unknown");

export function grade({ rttMs, lossPct }) {
  if (rttMs == null && lossPct == null) return "unknown";
  if ((rttMs ?? 0) > 400 || (lossPct ?? 0) > 8) return "poor";
  if ((rttMs ?? 0) > 200 || (lossPct ?? 0) > 3) return "fair";
  return "good";
}

export class QualityMonitor {
  constructor(pc) {
    this.pc = pc;
    this.last = null;
  }

  // One sample: {rttMs, lossPct, kbpsIn, kbpsOut, grade}.
  async sample() {
    const report = await this.pc.getStats();
    let rtt = null, received = 0, lost = 0, bytesIn = 0, bytesOut = 0;
    report.forEach((s) => {
      if (s.type === "candidate-pair" && s.nominated && s.currentRoundTripTime != null) rtt = s.currentRoundTripTime * 1000;
      if (s.type === "inbound-rtp") { received += s.packetsReceived || 0; lost += Math.max(0, s.packetsLost || 0); bytesIn += s.bytesReceived || 0; }
      if (s.type === "outbound-rtp") bytesOut += s.bytesSent || 0;
    });
    const now = performance.now();
    let lossPct = null, kbpsIn = null, kbpsOut = null;
    if (this.last) {
      const seconds = (now - this.last.at) / 1000;
      const dReceived = received - this.last.received, dLost = lost - this.last.lost;
      lossPct = dReceived + dLost > 0 ? (100 * dLost) / (dReceived + dLost) : 0;
      kbpsIn = ((bytesIn - this.last.bytesIn) * 8) / 1000 / seconds;
      kbpsOut = ((bytesOut - this.last.bytesOut) * 8) / 1000 / seconds;
    }
    this.last = { at: now, received, lost, bytesIn, bytesOut };
    const figures = { rttMs: rtt, lossPct, kbpsIn, kbpsOut };
    return { ...figures, grade: grade(figures) };
  }
}
