// What a weak connection changes in what this page sends on its camera: steps from full
// video down to audio only and back, as data, with hysteresis (down after DOWN_AFTER poor
// readings without a good one between, up after UP_AFTER good ones in a row; one reading
// every 2 s, call-stage.js). Pure: call-stage.js applies a step to each peer's camera
// sender (RTCRtpSender.setParameters) and says it. The screen share keeps its own settings.

// scale: scaleResolutionDownBy; maxBitrate in bit/s (null: the browser's own); active:
// false sends no video at all (the camera and the self view stay on; demos are drawn on
// each side and cost nothing, so they keep running).
export const STEPS = [
  { name: "full", scale: 1, maxBitrate: null, active: true },
  { name: "reduced", scale: 2, maxBitrate: 300_000, active: true },
  { name: "low", scale: 4, maxBitrate: 120_000, active: true },
  { name: "audio", scale: 4, maxBitrate: 120_000, active: false },
];
export const DOWN_AFTER = 2;
export const UP_AFTER = 3;
// Where "Try video again" goes from audio only: the smallest video.
export const RETRY_STEP = STEPS.findIndex((s) => s.name === "low");

export const STEP_NAMES = STEPS.map((s) => s.name);

export const startSteps = () => ({ step: 0, poor: 0, good: 0 });

// The state after one reading, by its grade (quality.js: good, fair, poor, unknown). Fair
// neither steps down nor counts towards stepping up; unknown changes nothing.
export function advance(state, reading) {
  let { step, poor, good } = state;
  if (reading === "poor") { poor += 1; good = 0; }
  else if (reading === "good") { good += 1; poor = 0; }
  else if (reading === "fair") good = 0;
  if (poor >= DOWN_AFTER && step < STEPS.length - 1) return { step: step + 1, poor: 0, good: 0 };
  if (good >= UP_AFTER && step > 0) return { step: step - 1, poor: 0, good: 0 };
  return { step, poor: Math.min(poor, DOWN_AFTER), good: Math.min(good, UP_AFTER) };
}

// The camera sender's encoding at a step, from the one it has (RTCRtpSender.getParameters).
export function encodingAt(encoding, step) {
  const { scale, maxBitrate, active } = STEPS[step];
  const next = { ...encoding, scaleResolutionDownBy: scale, active };
  if (maxBitrate) next.maxBitrate = maxBitrate;
  else delete next.maxBitrate;
  return next;
}
