-- Forget a block whose last reference is gone and tell each holder to delete its replica.
-- ARGV: prefix, block_id. Returns 1 if collected.
local bid = ARGV[2]
local refs = redis.call('HGET', k_block(bid), 'refs')
if refs and tonumber(refs) > 0 then
  redis.call('SREM', k_gc(), bid)
  return 0
end
local cmd = '{"kind":"delete","block_id":"' .. bid .. '"}'
for _, sid in ipairs(redis.call('SMEMBERS', k_replicas(bid))) do
  redis.call('RPUSH', k_server_cmds(sid), cmd)
  redis.call('SREM', k_server_blocks(sid), bid)
end
if refs then redis.call('HINCRBY', k_stats(), 'blocks', -1) end
redis.call('DEL', k_replicas(bid), k_block(bid))
redis.call('SREM', k_gc(), bid)
redis.call('SREM', k_underrep(), bid)
redis.call('SREM', k_excess(), bid)
return 1
