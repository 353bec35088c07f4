-- Take the lease on a duty if it is free, or renew it if this holder has it; one step, so
-- a lease that expires between a check and a renewal can never be renewed by its old holder
-- after another nameserver took it. ARGV: prefix, duty, holder, ttl_ms. Returns 1 if held.
local key, holder, ttl = k_lease(ARGV[2]), ARGV[3], ARGV[4]
local current = redis.call('GET', key)
if current == false then
  redis.call('SET', key, holder, 'PX', ttl)
  return 1
end
if current == holder then
  redis.call('PEXPIRE', key, ttl)
  return 1
end
return 0
