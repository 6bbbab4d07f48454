-- Admission: check every claim, and only if all pass, apply all of them.
-- KEYS: [1] ticket record, then nb budget hashes, nr (log, sum) pairs, nf in-flight sets.
-- ARGV: [1] now ms, [2] ticket id, [3] nb, [4] nr, [5] nf, [6] ticket record ttl ms,
--       [7] in-flight stale ms, [8] in-flight set ttl ms,
--       then per budget (limit, amount, expire_at or 0), per rate (window, limit, amount),
--       per in-flight (max).
-- Reply: {0, used of each budget...} admitted (the used amounts let an instance start from
--        them if Redis becomes unreachable); {1, i, used, reserved} budget i;
--        {2, i, retry_after} rate i; {3, i} in-flight i.
local now = tonumber(ARGV[1])
local id = ARGV[2]
local nb, nr, nf = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local b0 = 9
local r0 = b0 + 3 * nb
local f0 = r0 + 3 * nr
local kb, kr, kf = 2, 2 + nb, 2 + nb + 2 * nr

for i = 0, nb - 1 do
  local v = redis.call('HMGET', KEYS[kb + i], 'used', 'reserved')
  local used, reserved = tonumber(v[1] or '0'), tonumber(v[2] or '0')
  local limit = tonumber(ARGV[b0 + 3 * i])
  if limit <= 0 or used + reserved >= limit then
    return {1, i, used, reserved}
  end
end

for i = 0, nr - 1 do
  local log, sum_key = KEYS[kr + 2 * i], KEYS[kr + 2 * i + 1]
  local window = tonumber(ARGV[r0 + 3 * i])
  local limit = tonumber(ARGV[r0 + 3 * i + 1])
  local amount = tonumber(ARGV[r0 + 3 * i + 2])
  local sum = trim(log, sum_key, now - window)
  if not fits(sum, amount, limit) then
    -- Walk the oldest entries until enough have left for the request to fit.
    local retry = window
    if amount <= limit then
      local entries = redis.call('ZRANGE', log, 0, -1, 'WITHSCORES')
      local remaining = sum
      for j = 1, #entries, 2 do
        remaining = remaining - amount_of(entries[j])
        if fits(remaining, amount, limit) then
          retry = math.max(tonumber(entries[j + 1]) + window - now, 1)
          break
        end
      end
    end
    return {2, i, retry}
  end
end

local stale = tonumber(ARGV[7])
for i = 0, nf - 1 do
  redis.call('ZREMRANGEBYSCORE', KEYS[kf + i], '-inf', now - stale)
  if redis.call('ZCARD', KEYS[kf + i]) >= tonumber(ARGV[f0 + i]) then
    return {3, i}
  end
end

-- Every claim passed: apply them all.
local reply = {0}
for i = 0, nb - 1 do
  local key = KEYS[kb + i]
  redis.call('HINCRBY', key, 'reserved', ARGV[b0 + 3 * i + 1])
  reply[#reply + 1] = tonumber(redis.call('HGET', key, 'used') or '0')
  local expire_at = ARGV[b0 + 3 * i + 2]
  if expire_at ~= '0' then
    redis.call('PEXPIREAT', key, expire_at)
  end
end
for i = 0, nr - 1 do
  local amount = ARGV[r0 + 3 * i + 2]
  if tonumber(amount) > 0 then
    local log, sum_key = KEYS[kr + 2 * i], KEYS[kr + 2 * i + 1]
    log_add(log, sum_key, ARGV[1], id .. '-' .. i, amount, tonumber(ARGV[r0 + 3 * i]))
  end
end
for i = 0, nf - 1 do
  redis.call('ZADD', KEYS[kf + i], ARGV[1], id)
  redis.call('PEXPIRE', KEYS[kf + i], ARGV[8])
end
redis.call('SET', KEYS[1], '1', 'PX', ARGV[6])
return reply
