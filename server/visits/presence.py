"""Whether a waiting patient's therapist is in another visit's call right now ("busy").

Where the therapist is in *this* visit ("here" or "away") and her late note are pushed by
the room (`presence`, signaling/room.py). Whether she is in a call of *another* visit is
not the room's to know: that room may live in another process. The waiting page asks
`GET /visits/{visit}/presence` (server/views/live.py) every 20 s while its therapist is
away; the answer comes from the rooms' live details, which every process reads
(`Router.live_details`): one of her other visits around now has her in its call. Only a
participant waiting in the visit's room now, on the browser that asks, is answered;
answers are kept a few seconds per therapist, and each seat may ask a few times a minute,
so many waiting pages cost little.
The limits and the kept answers are this process's own: with N processes behind the proxy a
seat may ask N times as often, each a cheap, indexed question.
"""

from __future__ import annotations

import time

from server.storage import Database
from server.storage.visits import Visit, list_visits
from signaling.live_detail import waiting_tag
from signaling.rate import BucketTable
from signaling.router import Router

ASK_RATE = 1 / 10
"""Questions a seat may ask a second, sustained (the page asks every 20 s)."""
ASK_BURST = 3.0
"""Questions it may ask at once (a reload or two)."""
KEEP_SECONDS = 5.0
"""How long one therapist's answer is reused for every page that asks."""
AROUND_SECONDS = 12 * 3600
"""Her other visits looked at: those starting within this of now (a call happens within
its visit's window)."""
_MAX_ENTRIES = 10_000


class TherapistPresence:
    """Answers "is her therapist in another visit's call?", cheaply and rate-limited."""

    def __init__(self, db: Database, router: Router) -> None:
        self.db = db
        self.router = router
        self._answers: dict[int, tuple[float, frozenset[str]]] = {}
        """Her visits with her in a call, by therapist, with when it was asked (monotonic)."""
        self._buckets = BucketTable(ASK_RATE, ASK_BURST, _MAX_ENTRIES)

    def allowed(self, visit_id: str, participant_id: str) -> bool:
        """Whether this seat may ask now (False: answer 429)."""
        return self._buckets.take((visit_id, participant_id), time.monotonic())

    async def waiting(self, visit_id: str, participant_id: str, device: str | None) -> bool:
        """Whether this participant is connected and waiting in the visit's room now, on
        this browser."""
        detail = (await self.router.live_details([visit_id])).get(visit_id)
        return detail is not None and waiting_tag(participant_id, device) in detail.waiting

    async def busy(self, visit: Visit) -> bool:
        """Whether the visit's therapist (her staff account) is in a call of another visit
        now; False for a therapist booked by name only (nothing ties her visits together)."""
        if visit.therapist_id is None:
            return False
        now = time.monotonic()
        kept = self._answers.get(visit.therapist_id)
        if kept is not None and now - kept[0] < KEEP_SECONDS:
            in_call = kept[1]
        else:
            in_call = await self._in_call(visit.therapist_id)
            if len(self._answers) >= _MAX_ENTRIES:
                self._answers.clear()
            self._answers[visit.therapist_id] = (now, in_call)
        return bool(in_call - {visit.id})

    async def _in_call(self, therapist_id: int) -> frozenset[str]:
        """Her visits around now with her in their call."""
        wall = int(time.time())
        theirs = await list_visits(self.db, start=wall - AROUND_SECONDS, end=wall + AROUND_SECONDS,
                                   status="scheduled", therapist_id=therapist_id)
        if not theirs:
            return frozenset()
        details = await self.router.live_details([v.id for v in theirs])
        return frozenset(v for v, detail in details.items() if detail.host_in_call)
