// The therapist's side of the waiting room: who waits (admit or deny, a chime when someone
// arrives) and taking someone out of the call.
import { $, announce } from "./call-page.js";

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
      const who = w.new_device ? `${w.name} from a new device` : w.name;
      name.textContent = `${who} (${w.role}) since ${new Date(w.since * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`;
      if (w.new_device) item.dataset.newDevice = "true";
      const admit = button("Admit", "admit-button", w, () => send({ type: "admit", participant: w.id }));
      const deny = button("Deny", "deny-button", w, () => send({ type: "deny", participant: w.id }));
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
      announce(`${arrived.map((w) => (w.new_device ? `${w.name} from a new device` : w.name)).join(", ")} is waiting to be let in.`);
    }
  });

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
      const back = button("Back to waiting room", "remove-to-waiting", who, out(false));
      back.setAttribute("aria-label", `Move ${peer.name} back to the waiting room`);
      const revoke = button("Remove and revoke link", "remove-revoke", who, out(true));
      revoke.classList.add("danger");
      revoke.setAttribute("aria-label", `Remove ${peer.name} and revoke their link`);
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
