// Building page elements in script: a tag, its properties (or attributes, for a name the
// element has no property of; `dataset` sets data- attributes) and its children. Text goes
// in as text (textContent), never as markup.
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}
