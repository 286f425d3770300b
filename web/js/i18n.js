// The page's words in its language. English strings are the message ids: an English page
// loads no catalog and t() gives its text back, with {name} placeholders filled in. A
// catalog that does not come within 3 s, or is no catalog, leaves the page in English.
const url = document.documentElement.dataset.catalog;
const loaded = url ? await fetch(url, { signal: AbortSignal.timeout(3000) })
  .then((r) => (r.ok ? r.json() : {})).catch(() => ({})) : {};
const catalog = loaded && typeof loaded === "object" ? loaded : {};
// Own keys only: a message or a placeholder named like an Object method is no translation.
const own = (object, key) => Object.hasOwn(object, key);

export const t = (text, values = {}) => (own(catalog, text) && typeof catalog[text] === "string" && catalog[text] ? catalog[text] : text)
  .replace(/\{(\w+)\}/g, (m, k) => (own(values, k) ? values[k] ?? m : m));
