"""The message bus rooms speak through: publish to a connection's channel, never to a socket.

`InProcessBus` serves one server process. A bus shared between processes (Redis pub/sub)
implements the same two calls, and room logic does not change.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, NamedTuple, Protocol


class Delivery(NamedTuple):
    """One outbound message for one connection, and whether to close it afterwards."""

    message: dict[str, Any] | str
    """The message, or its JSON text when the sender already has it."""
    close_code: int | None = None
    """WebSocket close code to close with after sending; None keeps the socket open."""


Handler = Callable[[Delivery], Awaitable[None]]


class Subscription(Protocol):
    """A registered handler; `cancel` stops deliveries."""

    def cancel(self) -> None: ...


class Bus(Protocol):
    """Publish to and subscribe on named channels (one channel per connection)."""

    async def publish(self, channel: str, delivery: Delivery) -> None: ...

    def subscribe(self, channel: str, handler: Handler) -> Subscription: ...


class _LocalSubscription:
    def __init__(self, bus: "InProcessBus", channel: str, handler: Handler) -> None:
        self._bus, self._channel, self._handler = bus, channel, handler

    def cancel(self) -> None:
        handlers = self._bus._channels.get(self._channel)
        if handlers and self._handler in handlers:
            handlers.remove(self._handler)
            if not handlers:
                del self._bus._channels[self._channel]


class InProcessBus:
    """Delivers within this process by calling the subscribed handlers directly."""

    def __init__(self) -> None:
        self._channels: dict[str, list[Handler]] = {}

    async def publish(self, channel: str, delivery: Delivery) -> None:
        """Hand the delivery to every handler on the channel (none: dropped)."""
        handlers = self._channels.get(channel)
        if not handlers:
            return
        if len(handlers) == 1:  # the usual case: one socket per connection id
            await handlers[0](delivery)
            return
        for handler in list(handlers):
            await handler(delivery)

    def subscribe(self, channel: str, handler: Handler) -> Subscription:
        """Receive deliveries published to `channel`."""
        self._channels.setdefault(channel, []).append(handler)
        return _LocalSubscription(self, channel, handler)

    @property
    def channel_count(self) -> int:
        """How many channels have a subscriber (for tests and metrics)."""
        return len(self._channels)
