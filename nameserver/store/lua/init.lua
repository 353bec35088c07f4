-- Wipe the file system: a new empty root in one step; the old tree goes to the trash
-- marked '!' (its files were already uncounted here, so collecting it must not count again).
-- ARGV: prefix
local old = redis.call('GET', k_root())
local new = tostring(redis.call('INCR', k_dirseq()))
redis.call('SET', k_root(), new)
if old then redis.call('RPUSH', k_trash(), old .. '!') end
redis.call('HSET', k_stats(), 'files', 0)
return new
