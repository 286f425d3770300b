// The measuring styles (web/css/measure.css) join the page only once measuring is used, so
// the call page's first load does not carry them.
const added = new Set();

export function useStylesheet(name) {
  const href = new URL(`../../css/${name}`, import.meta.url).pathname;
  if (added.has(href)) return;
  added.add(href);
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = href;
  document.head.append(link);
}
