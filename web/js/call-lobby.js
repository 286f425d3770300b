// The therapist's side of the waiting room: who waits (admit or deny, a chime when someone
// arrives) and taking someone out of the call.
import { $, announce } from "./call-page.js";
import { t } from "./i18n.js";

// What the room answers a `late-note` it does not take (docs/protocol.md); `unknown_type`
// from a process of an older release during a rolling upgrade.
const NOTE_REFUSALS = new Set(["rate_limited", "busy", "bad_field", "forbidden", "unknown_type"]);

const fromNewDevice = (w) => (w.new_device ? t("{name} from a new device", { name: w.name }) : w.name);

export function lobbyView(call, { media, send }) {
  let waitingIds = new Set();
  call.addEventListener("lobby", ({ detail: waiting }) => {
    const arrived = waiting.filter((w) => !waitingIds.has(w.id));
    waitingIds = new Set(waiting.map((w) => w.id));
    $("lobby-list").replaceChildren(...waiting.map((w) => {
      const item = document.createElement("li");
      const name = document.createElement("span");
      // Someone admitted earlier whose link opened on another browser: a leaked link, or
      // her second device. The therapist decides; the device in the call keeps it till then.
      const since = new Date(w.since * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      name.textContent = t("{who} ({role}) since {time}", { who: fromNewDevice(w), role: w.role, time: since });
      if (w.new_device) item.dataset.newDevice = "true";
      const admit = button(t("Admit"), "admit-button", w, () => send({ type: "admit", participant: w.id }));
      const deny = button(t("Deny"), "deny-button", w, () => send({ type: "deny", participant: w.id }));
      deny.classList.add("secondary");
      item.append(name, admit, deny);
      return item;
    }));
    $("lobby-empty").hidden = waiting.length > 0;
    // Always a badge with the count; the stylesheet opens the list when the count is not 0.
    $("lobby").dataset.count = String(waiting.length);
    $("lobby-badge").textContent = String(waiting.length);
    if (arrived.length) {
      media.devices.chime();
      announce(t("{names} is waiting to be let in.", { names: arrived.map(fromNewDevice).join(", ") }));
    }
  });

  // Her "running late" note to whoever waits (fixed choices; the room keeps it and tells
  // them at once). The room's `presence` shows her what is set, after a reload too.
  // What she chose is sent once she stops moving through the list (arrow keys fire `change`
  // at every step), and said only when the room tells it back: what she hears is what her
  // patients see. A refusal puts back what is set.
  const late = $("late-note");
  if (late) {
    let confirmed = late.value;
    let pending; // the minutes sent and not yet told back (undefined: none)
    let timer = null;
    call.addEventListener("presence", ({ detail: m }) => {
      if (!("note" in m)) return; // the server could not read it just now
      const minutes = m.note ? m.note.minutes : null;
      confirmed = minutes === null ? "" : String(minutes);
      if (timer === null) late.value = confirmed;
      if (pending === undefined || pending !== minutes) return;
      pending = undefined;
      announce(minutes !== null ? t("Your patient sees that you are running about {minutes} minutes late.", { minutes }) : t("Your patient no longer sees a note that you are late."));
    });
    call.addEventListener("refused", ({ detail: { code, re } }) => {
      // (A process of an older release refuses the type unread: no `re`.)
      const ours = re === "late-note" || (re === undefined && code === "unknown_type");
      if (pending === undefined || !ours || !NOTE_REFUSALS.has(code)) return;
      pending = undefined;
      if (timer === null) late.value = confirmed; // (a newer choice waiting to go stays)
      announce(t("Your note was not changed. Try again in a moment."));
    });
    late.addEventListener("change", () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timer = null;
        pending = late.value ? Number(late.value) : null;
        send({ type: "late-note", minutes: pending });
      }, 800);
    });
  }

  const remove = $("remove-button");
  if (!remove) return;
  call.addEventListener("roster", ({ detail: count }) => { remove.hidden = count === 0; });
  // The therapist takes someone out of the call: back to the waiting room, or with her
  // link revoked (a leaked link, someone who should not be there).
  remove.addEventListener("click", () => {
    const dialog = $("remove-dialog");
    $("remove-list").replaceChildren(...[...call.peers.entries()].map(([id, peer]) => {
      const item = document.createElement("li");
      const name = document.createElement("strong");
      name.textContent = peer.name;
      const who = { id, name: peer.name };
      const out = (revoke) => () => {
        send({ type: "remove", participant: id, revoke });
        dialog.close();
      };
      const back = button(t("Back to waiting room"), "remove-to-waiting", who, out(false));
      back.setAttribute("aria-label", t("Move {name} back to the waiting room", { name: peer.name }));
      const revoke = button(t("Remove and revoke link"), "remove-revoke", who, out(true));
      revoke.classList.add("danger");
      revoke.setAttribute("aria-label", t("Remove {name} and revoke their link", { name: peer.name }));
      item.append(name, back, revoke);
      return item;
    }));
    dialog.showModal();
  });
}

function button(text, testid, who, onClick) {
  const el = document.createElement("button");
  el.type = "button";
  el.textContent = text;
  el.dataset.testid = testid;
  el.dataset.participant = who.id;
  el.setAttribute("aria-label", `${text} ${who.name}`);
  el.addEventListener("click", onClick);
  return el;
}
