-- Remove a user and revoke all of its access keys. ARGV: prefix, user.  Fails not_found.
local user = ARGV[2]
if redis.call('EXISTS', k_user(user)) == 0 then fail('not_found', 'no such user: ' .. user) end
for _, access_key in ipairs(redis.call('SMEMBERS', k_user_keys(user))) do
  redis.call('DEL', k_access_key(access_key))
end
redis.call('DEL', k_user_keys(user), k_user(user))
redis.call('SREM', k_users(), user)
return 1
