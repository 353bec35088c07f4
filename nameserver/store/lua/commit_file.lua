-- Make a file visible in one step, replacing any previous version.
-- ARGV: prefix, now, parents(0|1), if_absent(0|1), if_md5 ('' = none), entry_json, want_rf,
--       n, comps..., nblocks, (block_id, replica_csv)..., guard_n, guard comps..., guard_json
-- A block is either freshly allocated (it becomes live with one reference and its replicas
-- are recorded) or already live (copy, touch: one more reference). The guard, when given,
-- is a file that must still hold exactly guard_json (copy-file's source).
local now, parents, if_absent, if_md5 = ARGV[2], ARGV[3] == '1', ARGV[4] == '1', ARGV[5]
local entry_json, want_rf = ARGV[6], tonumber(ARGV[7])
local comps, n, pos = read_comps(8)
local nblocks = tonumber(ARGV[pos]); pos = pos + 1
local blocks = {}
for i = 1, nblocks do
  blocks[i] = {ARGV[pos], ARGV[pos + 1]}
  pos = pos + 2
end
local gcomps, gn, gpos = read_comps(pos)
local guard_json = ARGV[gpos]

-- validation
if gn > 0 then
  local gids, gfound = lookup_dirs(gcomps, gn - 1)
  local current = nil
  if gfound == gn - 1 then current = redis.call('HGET', k_dir(gids[gn - 1]), gcomps[gn]) end
  if not current then fail('not_found', 'no such file: ' .. gcomps[gn]) end
  if current ~= guard_json then fail('conflict', 'source changed during the copy') end
end
local ids, found = lookup_dirs(comps, n - 1)
if not parents then require_dirs(ids, found, comps, n - 1) end
local name = comps[n]
local old = nil
if found == n - 1 then old = redis.call('HGET', k_dir(ids[n - 1]), name) end
if if_absent and old then fail('precondition_failed', 'the file exists') end
if if_md5 ~= '' then
  if not old or cjson.decode(old).md5 ~= if_md5 then
    fail('precondition_failed', 'the file does not have the expected checksum')
  end
end
local states = {}
for i, b in ipairs(blocks) do
  local state = redis.call('HGET', k_block(b[1]), 'state')
  if not state then fail('conflict', 'block ' .. b[1] .. ' is not allocated (expired?)') end
  states[i] = state
end

-- writes
create_dirs(ids, found, comps, n - 1, now)
for i, b in ipairs(blocks) do
  local bid = b[1]
  if states[i] == 'alloc' then
    redis.call('HSET', k_block(bid), 'state', 'live', 'refs', 1)
    redis.call('HDEL', k_block(bid), 'expires')
    redis.call('ZREM', k_allocs(), bid)
    redis.call('HINCRBY', k_stats(), 'blocks', 1)
    states[i] = 'live'
    local count = 0
    for sid in string.gmatch(b[2], '[^,]+') do
      redis.call('SADD', k_replicas(bid), sid)
      redis.call('SADD', k_server_blocks(sid), bid)
      count = count + 1
    end
    if count < want_rf then redis.call('SADD', k_underrep(), bid) end
  else
    redis.call('HINCRBY', k_block(bid), 'refs', 1)
  end
end
if old then release_entry(old) else redis.call('HINCRBY', k_stats(), 'files', 1) end
add_member(ids[n - 1], name, entry_json)
return 'ok'
