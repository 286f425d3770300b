"""The Lua scripts the Redis cluster bus runs (`signaling.redis_bus`): each one is a step
that must happen atomically on the server, in one round trip."""

SEND = """
local n = redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*',
                      'to', ARGV[1], 'seq', n, 'm', ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('PUBLISH', ARGV[6], ARGV[2] .. ' ' .. n .. ' ' .. id .. ' ' .. ARGV[3])
return n
"""
# KEYS: seq hash of the receiver, room stream. ARGV: receiver, room, payload, stream
# length, keep ms, receiver's channel. The published text is "<room> <seq> <id> <payload>".

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
