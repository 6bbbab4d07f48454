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
