// What measuring needs, fetched once a page uses it (server/views/measure_setup.py, at the
// URL in the page's data-measure): the pose model's files (null when this server has none),
// the measurements (web/measure/measurements.json) and the words in the page's language.
const loading = new Map();

export function loadSetup(element) {
  const url = element.dataset.measure;
  if (!url) return Promise.resolve({ assets: null, definitions: null, words: null });
  if (!loading.has(url)) {
    const setup = (async () => {
      const answer = await getJSON(url);
      const absolute = (path) => new URL(path, location.href).href;
      const { human, model, wasm } = answer.assets || {};
      return {
        assets: answer.assets ? { humanUrl: absolute(human), modelUrl: absolute(model), wasmUrl: absolute(wasm) } : null,
        definitions: await getJSON(answer.definitions),
        words: answer.words,
      };
    })();
    setup.catch(() => loading.delete(url));
    loading.set(url, setup);
  }
  return loading.get(url);
}

async function getJSON(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}
