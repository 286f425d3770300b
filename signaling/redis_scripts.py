"""The Lua scripts the Redis cluster bus runs (`signaling.redis_bus`): each one is a step
that must happen atomically on the server, in one round trip."""

from __future__ import annotations

from typing import Any, Sequence

SEND = """
local n, lines = 0, {}
for i = 2, #KEYS do
  local room, payload = ARGV[2 * i + 1], ARGV[2 * i + 2]
  n = redis.call('HINCRBY', KEYS[1], room, 1)
  local id = redis.call('XADD', KEYS[i], 'MAXLEN', '~', ARGV[2], '*',
                        'to', ARGV[1], 'seq', n, 'm', payload)
  redis.call('PEXPIRE', KEYS[i], ARGV[3])
  lines[i - 1] = room .. ' ' .. n .. ' ' .. id .. ' ' .. payload
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', ARGV[4], table.concat(lines, '\\n'))
return n
"""
# Several messages for one receiver in one call. KEYS: seq hash of the receiver, then the
# room stream of each message. ARGV: receiver, stream length, keep ms, receiver's channel,
# then the room and payload of each message. One publish carries them all, a line each:
# "<room> <seq> <id> <payload>" (a payload is JSON, which holds no raw newline).


def send_call(prefix: str, sends: Sequence[tuple[str, ...]], stream_len: int,
              keep_ms: int) -> tuple[list[str], list[Any]]:
    """KEYS and ARGV of one SEND call for consecutive ("send", node, room, payload)
    operations, all for one node."""
    node = sends[0][1]
    args: list[Any] = [node, stream_len, keep_ms, f"{prefix}:node:{node}"]
    for op in sends:
        args += (op[2], op[3])
    return [f"{prefix}:seq:{node}", *(f"{prefix}:stream:{op[2]}" for op in sends)], args


CLAIM = """
local current = redis.call('GET', KEYS[1])
if current then return current end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]
"""

RENEW = """
local lost = {}
for i, key in ipairs(KEYS) do
  local current = redis.call('GET', key)
  if current == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
  elseif not current then
    redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
  else
    table.insert(lost, i)
  end
end
return lost
"""
# A record that vanished (Redis restarted) is taken back: this node still holds the room.
# One another node holds now is lost: this node's room is stale.

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
