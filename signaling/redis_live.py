"""Live states on Redis: the hash `visitroom:live`, where the field named by a visit holds its
room's bare state (the word every release reads) and `<visit>:detail` its
`signaling.live_detail` text; written by `signaling.redis_bus`'s writer in order with the
node's messages, read here."""

from __future__ import annotations

import logging
from typing import Any, Sequence

from redis.exceptions import RedisError

from signaling.redis_inbox import PREFIX

log = logging.getLogger(__name__)

LIVE_KEY = f"{PREFIX}:live"


def detail_field(visit_id: str) -> str:
    """The field of `LIVE_KEY` holding a visit's live detail."""
    return f"{visit_id}:detail"


async def read_states(redis: Any, node_id: str, visit_ids: Sequence[str]) -> dict[str, str]:
    """The live states of these visits; empty (and logged) while Redis is away."""
    found = await _read(redis, node_id, visit_ids, owned=False)
    return {v: text for v, (text, _) in found.items()}


async def read_details(redis: Any, node_id: str,
                       visit_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """The detail texts of these visits whose room has an owner now, with that owner (a
    detail it did not write, one its dead owner left behind, is the caller's to drop);
    empty (and logged) while Redis is away."""
    return await _read(redis, node_id, visit_ids, owned=True)


async def _read(redis: Any, node_id: str, visit_ids: Sequence[str], *,
                owned: bool) -> dict[str, tuple[str, str]]:
    if not visit_ids:
        return {}
    fields = [detail_field(v) for v in visit_ids] if owned else list(visit_ids)
    try:
        async with redis.pipeline(transaction=False) as pipe:
            pipe.hmget(LIVE_KEY, fields)
            if owned:
                pipe.mget([f"{PREFIX}:owner:{v}" for v in visit_ids])
            found = await pipe.execute()
    except (RedisError, OSError) as exc:
        log.warning("live states unavailable node=%s error=%s", node_id, type(exc).__name__)
        return {}
    owners = found[1] if owned else [""] * len(visit_ids)
    return {v: (text, owner) for v, text, owner in zip(visit_ids, found[0], owners)
            if text is not None and owner is not None}
