// Her plan-of-care page offline (served as /care/offline.js, scope /care/): once she has
// opened it (and counted once, which loads the pose model), the page, its scripts, its data
// and the model open again without a connection. Network first, always: online she gets
// today's page as before and a fresh copy is kept; offline the kept copy answers, and only
// until her plan link ends (the page's X-Visitroom-Keep-Until). Only GETs of this origin are
// kept, never a URL with the link's token, never her messages; the page holds no visit link
// (its join buttons are redirects the server checks). What she logs offline waits in the
// page's own queue (care-queue.js). Anything of a plan the server refuses (the link ended or
// was withdrawn) is forgotten at once.

const CACHE = "visitroom-care-v1";
// Her page and its data, the page's files, the exercises' demos (library content, the same
// for everyone) and the pose model. Not her messages.
const KEPT = /^\/(care\/pl_[A-Za-z0-9_-]+(\/(state|questionnaires)\.json)?|static\/.+|vendor\/.+|measure\/setup\.json|api\/library\/exercises\/[a-z0-9-]+)$/;
const PLAN = /^\/care\/(pl_[A-Za-z0-9_-]+)/;
const REFUSED = new Set([401, 403, 404, 410]);
const KEEP_UNTIL = "X-Visitroom-Keep-Until";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name);
    await self.clients.claim();
  })());
});

// Her page tells what it loaded before this worker took charge (itself, its first scripts
// and styles), and the pose worker's files: they are kept too. Only her plan page may ask.
self.addEventListener("message", (event) => {
  const from = event.source?.url ? new URL(event.source.url) : null;
  if (!from || from.origin !== self.location.origin || !PLAN.test(from.pathname)) return;
  const urls = Array.isArray(event.data?.keep) ? event.data.keep.slice(0, 200) : [];
  event.waitUntil(Promise.all(urls.map(async (href) => {
    let url;
    try { url = new URL(href, self.location.origin); } catch { return; }
    if (url.origin !== self.location.origin || !KEPT.test(url.pathname)) return;
    const cache = await caches.open(CACHE);
    if (await cache.match(keyOf(url))) return;
    await networkFirst(new Request(url), url).catch(() => {});
  })));
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin || !KEPT.test(url.pathname)) return;
  event.respondWith(networkFirst(request, url));
});

// The kept copy's key: the path, and the query only for versioned static files.
function keyOf(url) {
  return url.pathname.startsWith("/static/") ? url.pathname + url.search : url.pathname;
}

// Everything kept of one plan (its page and data).
async function forgetPlan(cache, planId) {
  for (const request of await cache.keys()) {
    if (new URL(request.url).pathname.startsWith(`/care/${planId}`)) await cache.delete(request);
  }
}

// Older versions of a file kept before (another ?v= of a static file, another version's
// folder of a vendored one) are dropped when a new one is kept.
async function dropOlder(cache, url) {
  const [, vendorFile] = /^\/vendor\/[^/]+-\d[^/]*\/(.+)$/.exec(url.pathname) || [];
  for (const request of await cache.keys()) {
    const kept = new URL(request.url);
    if (kept.pathname + kept.search === keyOf(url)) continue;
    const sameStatic = url.pathname.startsWith("/static/") && kept.pathname === url.pathname;
    const sameVendored = vendorFile && kept.pathname.startsWith("/vendor/") && kept.pathname.endsWith(`/${vendorFile}`)
      && kept.pathname.split("/")[2].replace(/-\d.*$/, "") === url.pathname.split("/")[2].replace(/-\d.*$/, "");
    if (sameStatic || sameVendored) await cache.delete(request);
  }
}

async function networkFirst(request, url) {
  const cache = await caches.open(CACHE);
  const plan = PLAN.exec(url.pathname)?.[1];
  let response;
  try {
    response = await fetch(request);
  } catch (err) {
    const kept = await cache.match(keyOf(url));
    if (kept && (!plan || await stillKept(cache, plan))) return kept;
    throw err;
  }
  const final = new URL(response.url || request.url);
  if (plan && REFUSED.has(response.status)) {
    await forgetPlan(cache, plan);
  } else if (response.ok && response.type === "basic" && KEPT.test(final.pathname) && !final.searchParams.has("token")) {
    await cache.put(keyOf(final), response.clone());
    await dropOlder(cache, final);
  }
  return response;
}

// A plan's copy answers offline only until the time its page said (her link's end).
async function stillKept(cache, planId) {
  const page = await cache.match(`/care/${planId}`);
  const until = Number(page?.headers.get(KEEP_UNTIL));
  if (until && Date.now() / 1000 < until) return true;
  await forgetPlan(cache, planId);
  return false;
}
