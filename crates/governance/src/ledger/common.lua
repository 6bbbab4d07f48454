-- Helpers shared by the ledger's scripts (prepended to each of them).
-- All values are integers; Lua numbers are doubles, exact below 2^53 (9e15 micro-USD, or
-- any Unix time in ms), and amounts written to Redis are passed through as ARGV strings.

-- The amount of a rate-log member "{time}:{unique}:{amount}" (the text after the last ':').
local function amount_of(member)
  return tonumber(string.match(member, ':(%d+)$')) or 0
end

-- Drop the entries of rate log `log` at or before `cutoff`, subtracting their amounts from
-- the running sum `sum_key`; returns the sum of what is left. An empty log resets the sum,
-- so the two can never drift apart for long.
local function trim(log, sum_key, cutoff)
  local old = redis.call('ZRANGEBYSCORE', log, '-inf', cutoff)
  if #old > 0 then
    redis.call('ZREMRANGEBYSCORE', log, '-inf', cutoff)
  end
  if redis.call('ZCARD', log) == 0 then
    redis.call('DEL', sum_key)
    return 0
  end
  if #old > 0 then
    local freed = 0
    for _, m in ipairs(old) do
      freed = freed + amount_of(m)
    end
    return redis.call('DECRBY', sum_key, freed)
  end
  return tonumber(redis.call('GET', sum_key) or '0')
end

-- Whether `amount` fits in a window holding `sum` (an amount of 0 needs a window not full).
local function fits(sum, amount, limit)
  if amount > 0 then
    return sum + amount <= limit
  end
  return sum < limit
end

-- Add `amount` at time `t` (a string of Unix ms) to rate log `log` and its sum: merged into the
-- newest entry when both fall in the same window/64 bucket. The merged entry takes the newer
-- time, so nothing leaves the window early: a limit is never exceeded, and an amount is at
-- most remembered window/64 longer than needed. A log then holds ~64 entries per window
-- whatever the traffic (memory, and the walk a refusal's Retry-After takes, stay bounded).
local function log_add(log, sum_key, t, unique, amount, window)
  local now = tonumber(t)
  local res = math.max(math.floor(window / 64), 1)
  local total = tonumber(amount)
  local last = redis.call('ZREVRANGE', log, 0, 0, 'WITHSCORES')
  if #last == 2 then
    local lt = tonumber(last[2])
    if lt <= now and math.floor(lt / res) == math.floor(now / res) then
      total = total + amount_of(last[1])
      redis.call('ZREM', log, last[1])
    end
  end
  redis.call('ZADD', log, t, t .. ':' .. unique .. ':' .. total)
  redis.call('INCRBY', sum_key, amount)
  redis.call('PEXPIRE', log, window + 1000)
  redis.call('PEXPIRE', sum_key, window + 1000)
end
