// The pose model, off the page's main thread: MoveNet SinglePose Lightning through
// @vladmandic/human on TensorFlow.js's WebAssembly backend, every file from this server
// (the page tells where: the vendored package, its model and the .wasm files). It gets a
// camera frame as an ImageBitmap and answers the 17 keypoints in the order asked, as
// [x, y, score] in the bitmap's pixels. Nothing leaves the device from here.

let human = null;
let order = [];

async function load({ humanUrl, modelUrl, wasmUrl, keypoints }) {
  const { Human } = await import(humanUrl);
  order = keypoints;
  human = new Human({
    backend: "wasm",
    wasmPath: wasmUrl,
    modelBasePath: new URL(".", modelUrl).href,
    debug: false,
    warmup: "none",
    // The pinned file from this server is the model: no copy kept in IndexedDB (it would win
    // over a later pin and hold a clinic's file in her browser; HTTP caching already keeps it).
    cacheModels: false,
    // Every frame is measured: no reuse of a result for a frame that changed little.
    cacheSensitivity: 0,
    filter: { enabled: false },
    face: { enabled: false },
    hand: { enabled: false },
    object: { enabled: false },
    gesture: { enabled: false },
    segmentation: { enabled: false },
    body: { enabled: true, modelPath: new URL(modelUrl).pathname.split("/").pop(), maxDetected: 1, minConfidence: 0.05 },
  });
  await human.load();
  await human.init();
  // Human logs, rather than throws, a model or backend that failed to load: check both, so the
  // page can say measuring is unavailable instead of asking her to reposition for ever.
  const backend = human.tf.getBackend();
  if (backend !== "wasm") throw new Error(`the WebAssembly backend did not start (${backend})`);
  if (!human.models.loaded().some((name) => name.includes("movenet"))) throw new Error("the pose model did not load");
  // What it fetched (the library, the model, the .wasm), for a page that keeps them offline.
  return { backend, fetched: performance.getEntriesByType("resource").map((entry) => entry.name) };
}

async function detect(bitmap) {
  const started = performance.now();
  try {
    const result = await human.detect(bitmap);
    const body = result.body?.[0];
    const byPart = new Map((body?.keypoints || []).map((k) => [k.part, [k.position[0], k.position[1], k.score]]));
    return { points: order.map((name) => byPart.get(name) || [0, 0, 0]), ms: performance.now() - started };
  } finally {
    bitmap.close();
  }
}

self.addEventListener("message", async ({ data }) => {
  try {
    if (data.type === "load") self.postMessage({ type: "loaded", id: data.id, ...(await load(data)) });
    else if (data.type === "frame") self.postMessage({ type: "pose", id: data.id, ...(await detect(data.bitmap)) });
  } catch (err) {
    self.postMessage({ type: "failed", id: data.id, reason: String(err?.message || err).slice(0, 200) });
  }
});
