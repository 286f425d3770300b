"""Ejections across processes, sent again until the room's owner confirms them.

A revoked link must leave the call wherever its room lives. The node that heard of the
revocation (`ClusterRouter.eject`) hands the ejection to the room's owner and keeps it
until that owner answers `Ejected`: an owner that stalled, died with the message in its
inbox, or handed the room over meanwhile gets it again, or the next owner does. While no
node owns the room it is asked again, less often (a stalled owner may come back and
claim its room again). Sending it twice is harmless: a room ejects a participant it no
longer has by doing nothing. A room rebuilt from the database never seats the revoked
link either (`RoomHooks.link_current`): the two together mean a revoke is never lost.

A staff sign-out's ejection (`EjectSession`: only the seat that session opened) is sent the
same way, for `SESSION_GIVE_UP_SECONDS` at most: an owner stalled longer than that has had
its presence lapse for two record lives, so it repairs its rooms and asks the database,
where the session is already gone (`RoomHooks.link_current`), before it seats anyone
again; a lapse shorter than that is outlasted. It matches only the seat that session
opened, so a late copy never closes a seat a later session opened, even on the same
browser, and a sign-out's tries end within minutes (a sign-in and sign-out loop cannot
pile them up for an hour).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from signaling.cluster_messages import Eject, EjectSession

log = logging.getLogger(__name__)

GIVE_UP_SECONDS = 3600.0
"""How long an ejection is sent again without a confirmation (then logged as an error)."""
SESSION_GIVE_UP_SECONDS = 120.0
"""How long a sign-out's ejection is sent again without a confirmation."""
IDLE_RETRY_SECONDS = 10.0
"""The longest wait between two tries while no node owns the room."""

Deliver = Callable[[Eject | EjectSession], Awaitable[bool]]
"""One try: hand the message to the room's owner now; False when no node owns it."""


class Ejections:
    """The ejections this node asked for that no room has confirmed yet."""

    def __init__(self, node_id: str, deliver: Deliver, every: float,
                 session_seconds: float = SESSION_GIVE_UP_SECONDS) -> None:
        self.node_id = node_id
        self.deliver = deliver
        self.every = every
        """Seconds between two tries while the room has an owner."""
        self.session_seconds = session_seconds
        """How long a session's ejection is tried at most."""
        self.pending: dict[str, asyncio.Event] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self._count = 0

    def ask(self, visit_id: str, participant_id: str, reason: str,
            on_session: str | None = None) -> None:
        """Eject a participant from her visit's room, wherever it is, until confirmed
        (with `on_session`, only the seat that staff session opened: `Router.eject`)."""
        self._count += 1
        eject_id = f"{self.node_id}.{self._count}"
        self.pending[eject_id] = asyncio.Event()
        message: Eject | EjectSession = (
            Eject(visit_id, participant_id, reason, self.node_id, eject_id) if on_session is None
            else EjectSession(visit_id, participant_id, reason, on_session, self.node_id,
                              eject_id))
        task = asyncio.create_task(self._until_confirmed(message), name=f"eject {visit_id}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def confirmed(self, eject_id: str) -> None:
        """The room's owner has ejected her (or had nobody of that name to eject)."""
        done = self.pending.get(eject_id)
        if done is not None:
            done.set()

    async def _until_confirmed(self, message: Eject | EjectSession) -> None:
        done = self.pending[message.eject_id]
        loop = asyncio.get_running_loop()
        scoped = isinstance(message, EjectSession)
        limit = self.session_seconds if scoped else GIVE_UP_SECONDS
        deadline = loop.time() + limit
        wait, tries, ever_owned = self.every, 0, False
        try:
            while loop.time() < deadline:
                try:
                    owned = await self.deliver(message)
                except Exception as exc:  # the bus does not answer (Redis down): again later
                    owned = False
                    if not tries:
                        log.warning("eject not sent visit=%s participant=%s error=%s; "
                                    "trying again", message.visit, message.participant,
                                    type(exc).__name__)
                tries += 1
                ever_owned = ever_owned or owned
                try:
                    await asyncio.wait_for(done.wait(), wait)
                    if tries > 1:
                        log.info("eject confirmed visit=%s participant=%s tries=%d",
                                 message.visit, message.participant, tries)
                    return
                except TimeoutError:
                    pass
                wait = self.every if owned else min(wait * 2, IDLE_RETRY_SECONDS)
            # A room nobody owned all along had nobody to eject (a revoke before the visit
            # started, say): only a room that was owned and never confirmed is an error; a
            # session's ejection gives up sooner by design (the link check stands behind it).
            (log.error if ever_owned and not scoped else log.info)(
                "eject never confirmed visit=%s participant=%s after %d s (room owned: %s)",
                message.visit, message.participant, limit, ever_owned)
        finally:
            self.pending.pop(message.eject_id, None)
