"""What rooms speak through: a delivery, published to a connection's channel, never to a
socket. The router gives each room its bus (`signaling.router`): the sink of a socket in
this process, or another process's inbox."""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol


class Delivery(NamedTuple):
    """One outbound message for one connection, and whether to close it afterwards."""

    message: dict[str, Any] | str
    """The message, or its JSON text when the sender already has it."""
    close_code: int | None = None
    """WebSocket close code to close with after sending; None keeps the socket open."""


class Bus(Protocol):
    """Publishes deliveries to connections by id (one channel per connection)."""

    async def publish(self, channel: str, delivery: Delivery) -> None: ...
