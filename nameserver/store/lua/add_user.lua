-- Create a user with its first access key, in one step.
-- ARGV: prefix, user, access_key, secret, now.  Fails already_exists.
local user, access_key, secret, now = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if redis.call('EXISTS', k_user(user)) == 1 then fail('already_exists', 'user exists: ' .. user) end
if redis.call('EXISTS', k_access_key(access_key)) == 1 then fail('conflict', 'access key taken') end
redis.call('HSET', k_user(user), 'created', now)
redis.call('SADD', k_users(), user)
redis.call('HSET', k_access_key(access_key), 'user', user, 'secret', secret, 'created', now)
redis.call('SADD', k_user_keys(user), access_key)
return 1
