-- Revoke one access key of a user. ARGV: prefix, user, access_key.  Fails not_found.
local user, access_key = ARGV[2], ARGV[3]
if redis.call('HGET', k_access_key(access_key), 'user') ~= user then
  fail('not_found', 'user ' .. user .. ' has no access key ' .. access_key)
end
redis.call('DEL', k_access_key(access_key))
redis.call('SREM', k_user_keys(user), access_key)
return 1
