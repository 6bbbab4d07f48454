-- Settle: release the ticket's reservations, charge the actual cost, add the rate extras,
-- free its in-flight slots.
-- KEYS: [1] ticket record, then nb budget hashes, nr (log, sum) pairs, nf in-flight sets.
-- ARGV: [1] now ms, [2] ticket id, [3] nb, [4] nr, [5] nf, [6] actual micro-USD,
--       then per budget (amount reserved, expire_at or 0), per rate (window, extra).
-- Applies only while the ticket's record exists (deleting it here), so a settle replayed
-- after a lost answer can't count twice, and releasing a ticket whose admission never ran
-- is a no-op. Reply: 1 applied, 0 already settled (or never admitted).
if redis.call('DEL', KEYS[1]) == 0 then
  return 0
end
local now = tonumber(ARGV[1])
local id = ARGV[2]
local nb, nr, nf = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local actual = ARGV[6]
local b0 = 7
local r0 = b0 + 2 * nb
local kb, kr, kf = 2, 2 + nb, 2 + nb + 2 * nr

for i = 0, nb - 1 do
  local key = KEYS[kb + i]
  local amount = ARGV[b0 + 2 * i]
  if amount ~= '0' then
    if redis.call('HINCRBY', key, 'reserved', '-' .. amount) < 0 then
      redis.call('HSET', key, 'reserved', '0')
    end
  end
  if actual ~= '0' then
    redis.call('HINCRBY', key, 'used', actual)
  end
  local expire_at = ARGV[b0 + 2 * i + 1]
  if expire_at ~= '0' then
    redis.call('PEXPIREAT', key, expire_at)
  end
end

for i = 0, nr - 1 do
  local extra = ARGV[r0 + 2 * i + 1]
  if extra ~= '0' then
    local log, sum_key = KEYS[kr + 2 * i], KEYS[kr + 2 * i + 1]
    local window = tonumber(ARGV[r0 + 2 * i])
    trim(log, sum_key, now - window)
    log_add(log, sum_key, ARGV[1], id .. '-x' .. i, extra, window)
  end
end

for i = 0, nf - 1 do
  redis.call('ZREM', KEYS[kf + i], id)
end
return 1
