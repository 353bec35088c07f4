-- Give a user one more access key (for rotation), up to ARGV[6] keys.
-- ARGV: prefix, user, access_key, secret, now, max_keys.  Fails not_found, conflict.
local user, access_key, secret, now, max_keys = ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6])
if redis.call('EXISTS', k_user(user)) == 0 then fail('not_found', 'no such user: ' .. user) end
if redis.call('SCARD', k_user_keys(user)) >= max_keys then
  fail('conflict', 'user ' .. user .. ' already has ' .. max_keys .. ' access keys: remove one first')
end
if redis.call('EXISTS', k_access_key(access_key)) == 1 then fail('conflict', 'access key taken') end
redis.call('HSET', k_access_key(access_key), 'user', user, 'secret', secret, 'created', now)
redis.call('SADD', k_user_keys(user), access_key)
return 1
