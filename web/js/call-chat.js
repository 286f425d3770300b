// The chat (templates/visit/_chat.html): in the call, and a waiting patient's exchange with
// her therapist. The server decides who reads what (signaling/chat.py); the page draws what
// it is sent, as text only: textContent, never HTML, so markup and links stay inert words.
// An unread badge counts messages that arrive while the call's chat is collapsed, and each
// message from someone else is announced to screen readers.
import { $, announce } from "./call-page.js";
import { t } from "./i18n.js";

const ANNOUNCED_CHARS = 300;
const REFUSALS = {
  rate_limited: () => t("Too many messages at once. Wait a moment, then send again."),
  not_waiting: () => t("That person is no longer in the waiting room."),
  forbidden: () => t("This message cannot be sent from here."),
  chat_full: () => t("This message cannot be sent from here."), // the visit keeps 2,000 already
  busy: () => t("The message was not sent. Try again in a moment."),
  bad_field: () => t("The message cannot be sent: it is empty or holds characters that are not allowed."),
};

export function chatView(call, { send, me }) {
  const therapist = call.role === "therapist";
  const panels = ["call", "waiting"].map((where) => $(`chat-${where}`)).filter(Boolean);
  const messages = new Map(); // message id -> message, in the order they arrived
  const names = new Map(); // participant id -> name (for the therapist's "waiting room: Maya")
  const toggle = $("chat-toggle");
  const body = $("chat-call-body");
  let unread = 0;
  let pending = null; // {text, where} last sent, until it comes back (or is refused)

  const setUnread = (count) => {
    unread = count;
    const badge = $("chat-unread");
    badge.textContent = String(count);
    badge.hidden = count === 0;
    toggle.setAttribute("aria-label", count ? t("Chat, {count} unread", { count }) : t("Chat"));
  };
  const setOpen = (open) => {
    toggle.setAttribute("aria-expanded", String(open));
    body.hidden = !open;
    $("chat-call").classList.toggle("collapsed", !open);
    if (open) setUnread(0);
  };
  const open = () => toggle.getAttribute("aria-expanded") === "true";
  // Open beside the video on a wide screen; collapsed to its bar on a phone.
  setOpen(window.matchMedia("(min-width: 64rem)").matches);
  toggle.addEventListener("click", () => setOpen(!open()));

  const line = (m) => {
    const item = document.createElement("li");
    item.className = "chat-message";
    item.dataset.id = m.id;
    const mine = m.from.id === me;
    if (mine) item.dataset.mine = "true";
    const meta = document.createElement("span");
    meta.className = "chat-meta";
    const who = document.createElement("strong");
    who.textContent = mine ? t("You") : m.from.name;
    const time = new Date(m.at * 1000).toLocaleTimeString(document.documentElement.lang || [], { hour: "2-digit", minute: "2-digit" });
    meta.append(who, ` ${time}`);
    if (therapist && m.to) meta.append(" · ", t("waiting room: {name}", { name: names.get(m.to) || m.from.name }));
    const text = document.createElement("p");
    text.className = "chat-text";
    text.textContent = m.text;
    item.append(meta, text);
    return item;
  };
  const draw = () => {
    for (const panel of panels) {
      const where = panel.dataset.where;
      const list = [...messages.values()];
      $(`chat-${where}-log`).replaceChildren(...list.map(line));
      $(`chat-${where}-empty`).hidden = list.length > 0;
      const log = $(`chat-${where}-log`);
      log.scrollTop = log.scrollHeight;
    }
  };
  const remember = (m) => {
    if (m.from.id !== me) names.set(m.from.id, m.from.name);
    messages.set(m.id, m);
  };

  call.addEventListener("chat-history", ({ detail: list }) => {
    messages.clear();
    for (const m of list) remember(m);
    draw();
  });
  call.addEventListener("chat", ({ detail: m }) => {
    if (messages.has(m.id)) return;
    remember(m);
    draw();
    if (m.from.id === me) {
      if (pending?.text === m.text) pending = null;
      return;
    }
    const inCall = document.getElementById("call-root").dataset.view === "call";
    if (inCall && !open()) setUnread(unread + 1);
    const text = m.text.length > ANNOUNCED_CHARS ? `${m.text.slice(0, ANNOUNCED_CHARS)}…` : m.text;
    announce(t("Message from {name}: {text}", { name: m.from.name, text }));
  });
  call.addEventListener("refused", ({ detail: { code, re } }) => {
    if (pending === null || !REFUSALS[code] || (re !== undefined && re !== "chat")) return;
    const { text, where } = pending;
    const error = $(`chat-${where}-error`);
    error.textContent = REFUSALS[code]();
    error.hidden = false;
    const box = $(`chat-${where}-text`);
    if (!box.value) box.value = text; // not sent: nothing typed is lost
    pending = null;
  });
  // The therapist writes to the call, or to one person in the waiting room.
  call.addEventListener("lobby", ({ detail: waiting }) => {
    const select = $("chat-to");
    if (!select) return;
    const chosen = select.value;
    for (const w of waiting) names.set(w.id, w.name);
    const options = waiting.map((w) => {
      const option = document.createElement("option");
      option.value = w.id;
      option.textContent = t("{name} (waiting room)", { name: w.name });
      return option;
    });
    select.replaceChildren(select.options[0], ...options);
    select.value = waiting.some((w) => w.id === chosen) ? chosen : "";
  });

  for (const panel of panels) {
    const where = panel.dataset.where;
    const box = $(`chat-${where}-text`);
    const submit = (e) => {
      e?.preventDefault();
      // Tabs and carriage returns are control characters the server refuses: sent as
      // spaces and newlines.
      const text = box.value.replace(/\r\n?/g, "\n").replace(/\t/g, " ").trim();
      if (!text) return;
      const to = where === "call" ? $("chat-to")?.value : "";
      send({ type: "chat", text, ...(to ? { to } : {}) });
      pending = { text, where };
      box.value = "";
      $(`chat-${where}-error`).hidden = true;
    };
    $(`chat-${where}-form`).addEventListener("submit", submit);
    // Enter sends; Shift+Enter starts a new line (a key name, not words: matched by a pattern).
    box.addEventListener("keydown", (e) => {
      if (/^Enter$/.test(e.key) && !e.shiftKey && !e.isComposing) submit(e);
    });
  }
}
