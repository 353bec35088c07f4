-- An allocation never committed: its pipeline servers may hold a partial or whole copy;
-- tell them to delete it. ARGV: prefix, block_id, now. Returns 1 if expired.
local bid, now = ARGV[2], tonumber(ARGV[3])
local state = redis.call('HGET', k_block(bid), 'state')
if state ~= 'alloc' then
  redis.call('ZREM', k_allocs(), bid)
  return 0
end
if tonumber(redis.call('HGET', k_block(bid), 'expires')) > now then return 0 end
local cmd = '{"kind":"delete","block_id":"' .. bid .. '"}'
for sid in string.gmatch(redis.call('HGET', k_block(bid), 'servers') or '', '[^,]+') do
  redis.call('RPUSH', k_server_cmds(sid), cmd)
end
redis.call('DEL', k_block(bid))
redis.call('ZREM', k_allocs(), bid)
return 1
