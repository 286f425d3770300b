// Measuring's messages travel on each peer's data channel (docs/protocol.md, "Measuring"):
// the therapist's go to her measure panel, and only her patient's; the patient's page takes
// only her therapist's, and loads its side of measuring with the first one. Loaded once the
// call is under way; peers already there are wired too.

export function routeMeasuring(call, { role, root, views }) {
  let measuring = role === "therapist" ? views.then((v) => v.measure) : null;
  const wired = new WeakSet();
  const wire = (peer) => {
    if (wired.has(peer.session)) return;
    wired.add(peer.session);
    peer.session.addEventListener("data", ({ detail: message }) => {
      if (!String(message.type).startsWith("measure-")) return;
      if (role === "patient" && peer.role === "therapist") {
        measuring ??= import("./call-measure-patient.js").then((side) => new side.PatientMeasuring({ root }));
      } else if (role !== "therapist") return;
      measuring?.then((side) => side.receive(peer, message)).catch((err) => console.warn("measuring:", err));
    });
  };
  for (const [id, peer] of call.peers) wire({ id, ...peer });
  call.addEventListener("peer-added", ({ detail: peer }) => wire(peer));
  call.addEventListener("peer-removed", ({ detail: { id } }) => measuring?.then((side) => side.peerGone(id)));
  // For diagnostics and the benchmark: the patient's measuring figures (frames, model time).
  window.visitroomCall.measuring = async () => (await measuring)?.current?.session?.figures() ?? null;
}
