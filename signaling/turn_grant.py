"""TURN credentials that follow admission: added on a socket's way out, renewed in the call.

The room decides who is in the call and says so to the socket: a `welcome` whose status
is "admitted", or `admitted`. A `TurnGrant` sits between the room and the socket's sink
and watches for exactly those messages: it adds the TURN server with a fresh, short-lived
credential (`signaling.ice.admitted_ice`) and then sends an `ice` message with a new one
every half lifetime. Anything that takes the participant out of the call (`waiting`,
`removed`, `denied`, `visit-ended`, `bye`, a `welcome` that says "waiting", a close) or
the socket closing stops the renewals, so the last credential lapses within one
lifetime and coturn refuses new allocations with it.

The grant runs on the process that holds the socket, whichever process owns the room:
credentials are minted there and never travel between processes.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable

from signaling.bus import Delivery
from signaling.ice import IceSettings, admitted_ice, turn_user
from signaling.router import Sink
from signaling.seat import Seat

OUT_OF_CALL = frozenset({"waiting", "removed", "denied", "visit-ended", "bye"})
"""Outbound types after which the socket's participant is not (or no longer) in the call."""


def admits(message: dict[str, Any]) -> bool:
    """Whether an outbound message tells its receiver she is in the call."""
    kind = message.get("type")
    return kind == "admitted" or (kind == "welcome" and message.get("status") == "admitted")


class TurnGrant:
    """One socket's sink, with TURN credentials added and renewed while it is admitted."""

    __slots__ = ("sink", "settings", "user", "clock", "_timer")

    def __init__(self, sink: Sink, settings: IceSettings, seat: Seat, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.sink = sink
        self.settings = settings
        self.user = turn_user(seat.participant_id, seat.link_id)
        self.clock = clock
        self._timer: asyncio.TimerHandle | None = None

    @property
    def renewing(self) -> bool:
        """Credentials are being renewed (the participant is in the call)."""
        return self._timer is not None

    def deliver(self, delivery: Delivery) -> None:
        """Pass a delivery on, with credentials when it admits; never waits."""
        message = delivery.message
        # Relayed frames arrive as text: they never change who is in the call.
        if isinstance(message, dict):
            if delivery.close_code is None and admits(message):
                delivery = Delivery({**message, **self._mint()})
                self._schedule()
            elif delivery.close_code is not None or message.get("type") in OUT_OF_CALL \
                    or message.get("type") == "welcome":
                self.stop()
        self.sink.deliver(delivery)

    def _mint(self) -> dict[str, Any]:
        return admitted_ice(self.settings, self.user, self.clock())

    def _schedule(self) -> None:
        self.stop()
        self._timer = asyncio.get_running_loop().call_later(
            self.settings.turn_lifetime / 2, self._renew)

    def _renew(self) -> None:
        self._timer = None
        self.sink.deliver(Delivery({"type": "ice", **self._mint()}))
        self._schedule()

    def stop(self) -> None:
        """No more renewals (out of the call, or the socket closed)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
