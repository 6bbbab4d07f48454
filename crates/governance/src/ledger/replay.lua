-- Replay: apply what was counted locally during an outage.
-- KEYS: [1] batch marker, then nb budget hashes, nr (log, sum) pairs.
-- ARGV: [1] batch id, [2] marker ttl ms, [3] nb, [4] nr,
--       then per budget (used delta, expire_at or 0),
--       per rate (window, n, then n pairs of (time, amount)).
-- The marker makes a batch apply once even if it is sent again after a lost answer.
-- Reply: 1 applied, 0 already applied.
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[2]) then
  return 0
end
local batch = ARGV[1]
local nb, nr = tonumber(ARGV[3]), tonumber(ARGV[4])
local a = 5
for i = 0, nb - 1 do
  local key = KEYS[2 + i]
  redis.call('HINCRBY', key, 'used', ARGV[a])
  if ARGV[a + 1] ~= '0' then
    redis.call('PEXPIREAT', key, ARGV[a + 1])
  end
  a = a + 2
end
for i = 0, nr - 1 do
  local log, sum_key = KEYS[2 + nb + 2 * i], KEYS[3 + nb + 2 * i]
  local ttl = tonumber(ARGV[a]) + 1000
  local n = tonumber(ARGV[a + 1])
  a = a + 2
  local added = 0
  for j = 1, n do
    local t, amount = ARGV[a], ARGV[a + 1]
    redis.call('ZADD', log, t, t .. ':' .. batch .. '-' .. i .. '-' .. j .. ':' .. amount)
    added = added + tonumber(amount)
    a = a + 2
  end
  if n > 0 then
    redis.call('INCRBY', sum_key, added)
    redis.call('PEXPIRE', log, ttl)
    redis.call('PEXPIRE', sum_key, ttl)
  end
end
return 1
