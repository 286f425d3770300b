"""The Lua scripts the Redis cluster bus runs (`signaling.redis_bus`): each one is a step
that must happen atomically on the server, in one round trip."""

from __future__ import annotations

from typing import Any, Sequence

EPOCH = """
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
end
return epoch
"""
# The group's epoch: the value `visitroom:epoch` holds, made from this caller's candidate
# when Redis has none (it forgot everything: a restart without persistence, a FLUSHALL).
_EPOCH_LUA = EPOCH.replace("return epoch\n", "")

SEND = _EPOCH_LUA + """
local t = redis.call('TIME')
local minid = string.format('%.0f', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
                                    - tonumber(ARGV[5])) .. '-0'
local n, lines = 0, {}
for i = 4, #KEYS do
  local room, payload = ARGV[2 * i - 1], ARGV[2 * i]
  n = redis.call('HINCRBY', KEYS[2], room, 1)
  local id = redis.call('XADD', KEYS[i], 'MINID', minid, '*',
                        'to', ARGV[2], 'e', epoch, 'seq', n, 'm', payload)
  redis.call('XTRIM', KEYS[i], 'MAXLEN', '~', ARGV[3])
  redis.call('PEXPIRE', KEYS[i], ARGV[5])
  lines[i - 3] = epoch .. ' ' .. room .. ' ' .. n .. ' ' .. id .. ' ' .. payload
end
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('PUBLISH', KEYS[3], table.concat(lines, '\\n'))
return n
"""
# Several messages for one receiver in one call. KEYS: the epoch, the receiver's counters
# (seq hash), its channel (a key slot only by name), then the room stream of each message.
# ARGV: candidate epoch, receiver, stream length, keep ms (counters), retain ms (streams),
# then the room and payload of each message. One publish carries them all, a line each:
# "<epoch> <room> <seq> <id> <payload>" (a payload holds no space or raw newline). Each
# entry is kept `retain` ms (MINID from the server's clock: exact, so nothing older stays)
# and at most about `stream length` entries.


def send_call(prefix: str, epoch_candidate: str, sends: Sequence[tuple[str, ...]],
              stream_len: int, keep_ms: int, retain_ms: int) -> tuple[list[str], list[Any]]:
    """KEYS and ARGV of one SEND call for consecutive ("send", node, room, payload)
    operations, all for one node."""
    node = sends[0][1]
    args: list[Any] = [epoch_candidate, node, stream_len, keep_ms, retain_ms, ""]
    for op in sends:
        args += (op[2], op[3])
    return [f"{prefix}:epoch", f"{prefix}:seq:{node}", f"{prefix}:node:{node}",
            *(f"{prefix}:stream:{op[2]}" for op in sends)], args


BEAT = _EPOCH_LUA.replace("ARGV[1]", "ARGV[2]") + """
local was = redis.call('SET', KEYS[2], '1', 'PX', ARGV[1], 'GET')
local counters = redis.call('PEXPIRE', KEYS[3], ARGV[3])
return {epoch, was and 1 or 0, counters}
"""
# A node's periodic round. KEYS: the epoch, the node's presence record, its counters.
# ARGV: presence ms, candidate epoch, keep ms. Renews its presence (answering whether it
# was still there: gone means Redis forgot, or this node stalled past its life) and its
# counters' time to live (answering whether they exist), and reads the epoch.


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
