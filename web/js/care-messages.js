// Her messages with her care team on the plan page: the thread from /care/{plan}/messages
// (newest first, a page at a time: {messages: [{id, author, author_name, text, created_at,
// read}], older, max_length}), shown oldest first, and the form that sends one. Every text
// goes into the page as text (textContent), never as markup: a link in a message shows as
// its words and is never followed. Opening the thread marks the clinic's messages read.
import { t } from "./i18n.js";

const TIMEOUT_MS = 15000;

// 24-hour, as the server writes times (i18n.TIME_FORMATS); in the phone's own time zone.
const when = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
  weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
});

function messageItem(message) {
  const own = message.author === "patient";
  const item = document.createElement("li");
  item.classList.add("message", own ? "message-own" : "message-team");
  item.dataset.message = String(message.id);
  item.dataset.author = message.author;
  const head = document.createElement("p");
  head.className = "message-head";
  const who = document.createElement("strong");
  who.textContent = own ? t("You") : message.author_name || t("Your therapist");
  const time = document.createElement("time");
  time.dateTime = new Date(message.created_at * 1000).toISOString();
  time.textContent = when.format(message.created_at * 1000);
  head.append(who, " ", time);
  const text = document.createElement("p");
  text.className = "message-text";
  text.textContent = message.text;
  item.append(head, text);
  return item;
}

async function request(url, options = {}) {
  const response = await fetch(url, {
    ...options,
    headers: { Accept: "application/json", ...(options.headers || {}) },
    credentials: "same-origin",
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const body = await response.json().catch(() => ({}));
  return { response, body };
}

/** Wire the messages section of the page; `root` is the page's article (data-plan). */
export function setUpMessages(root) {
  const section = root.querySelector("#messages");
  if (!section) return;
  const base = `/care/${encodeURIComponent(root.dataset.plan)}/messages`;
  const list = section.querySelector("#message-list");
  const empty = section.querySelector("#messages-empty");
  const older = section.querySelector("#messages-older");
  const form = section.querySelector("#message-form");
  const textarea = form.querySelector("#message-text");
  const error = form.querySelector("#message-error");
  const status = form.querySelector("#message-status");
  let cursor = null;
  let maxLength = 0;
  let pagedBack = false; // older pages shown: a refresh of the newest would drop them

  const show = (page, { before = false } = {}) => {
    const items = [...page.messages].reverse().map(messageItem);
    if (before) list.prepend(...items);
    else list.replaceChildren(...items);
    cursor = page.older;
    older.hidden = !cursor;
    empty.hidden = list.children.length > 0;
    if (page.max_length) {
      maxLength = page.max_length;
      textarea.maxLength = maxLength;
    }
  };

  const loadNewest = async () => {
    try {
      const { response, body } = await request(base);
      if (response.ok) show(body);
      else status.textContent = body.error?.message || t("Your messages could not be loaded. Reload the page to try again.");
    } catch {
      status.textContent = t("Your messages could not be loaded. Check your connection.");
    }
  };

  older.addEventListener("click", async () => {
    if (!cursor) return;
    try {
      const { response, body } = await request(`${base}?before=${encodeURIComponent(cursor)}`);
      if (response.ok) {
        pagedBack = true;
        show(body, { before: true });
      }
    } catch {
      status.textContent = t("Your messages could not be loaded. Check your connection.");
    }
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const text = textarea.value.trim();
    if (!text) {
      error.textContent = t("Write a message first.");
      textarea.focus();
      return;
    }
    const length = [...text].length; // characters, as the server counts them
    if (maxLength && length > maxLength) {
      error.textContent = t("A message holds at most {max} characters; this one has {length}.", { max: maxLength, length });
      textarea.focus();
      return;
    }
    status.textContent = t("Sending…");
    try {
      const { response, body } = await request(base, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ text }),
      });
      if (response.status === 201) {
        list.append(messageItem(body.message));
        empty.hidden = true;
        textarea.value = "";
        status.textContent = t("Sent. Your therapist will read it when they next review your plan.");
        return;
      }
      status.textContent = "";
      error.textContent = body.error?.message || t("Not sent. Please try again.");
    } catch {
      status.textContent = "";
      error.textContent = t("Not sent. Check your connection and try again.");
    }
  });

  // Back on the page after a while (the phone was put away): show any new answer.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && !pagedBack) loadNewest();
  });
  loadNewest().then(() => { section.dataset.ready = "true"; });
}

const page = document.getElementById("care-home");
if (page) setUpMessages(page);
