-- Make a file visible in one step, replacing any previous version.
-- ARGV: prefix, now, parents(0|1|2, see require_parents), if_absent(0|1), if_md5 ('' = none), entry_json, want_rf,
--       n, comps..., nblocks, (block_id, replica_csv, crc)..., guard_n, guard comps..., guard_json,
--       upload_id ('' = none), nparts, (part_number, part_json)...
-- A block is either freshly allocated (it becomes live with one reference and its replicas
-- are recorded) or already live (copy, touch, multipart completion: one more reference).
-- The guard, when given, is a file that must still hold exactly guard_json (copy-file's
-- source). The upload, when given, is a multipart upload into this file's bucket whose
-- listed parts must still be exactly as given; it is consumed, releasing its parts.
local now, parents, if_absent, if_md5 = ARGV[2], ARGV[3], ARGV[4] == '1', ARGV[5]
local entry_json, want_rf = ARGV[6], tonumber(ARGV[7])
local comps, n, pos = read_comps(8)
local nblocks = tonumber(ARGV[pos]); pos = pos + 1
local blocks = {}
for i = 1, nblocks do
  blocks[i] = {ARGV[pos], ARGV[pos + 1], ARGV[pos + 2]}
  pos = pos + 3
end
local gcomps, gn, gpos = read_comps(pos)
local guard_json = ARGV[gpos]
local upload_id = ARGV[gpos + 1]
local nparts = tonumber(ARGV[gpos + 2])
pos = gpos + 3

-- validation
if gn > 0 then
  local gids, gfound = lookup_dirs(gcomps, gn - 1)
  local current = nil
  if gfound == gn - 1 then current = redis.call('HGET', k_dir(gids[gn - 1]), gcomps[gn]) end
  if not current then fail('not_found', 'no such file: ' .. gcomps[gn]) end
  if current ~= guard_json then fail('conflict', 'source changed during the copy') end
end
local ids, found = lookup_dirs(comps, n - 1)
require_parents(ids, found, comps, n, parents)
if upload_id ~= '' then
  local dir = redis.call('HGET', k_upload(upload_id), 'dir')
  if not dir or found < 1 or ids[1] ~= dir then
    fail('no_such_upload', 'no such upload: ' .. upload_id)
  end
  for i = 1, nparts do
    local number, part_json = ARGV[pos], ARGV[pos + 1]
    if redis.call('HGET', k_upload(upload_id), number) ~= part_json then
      fail('conflict', 'part ' .. number .. ' changed during completion')
    end
    pos = pos + 2
  end
end
local name = comps[n]
local old = nil
if found == n - 1 then old = redis.call('HGET', k_dir(ids[n - 1]), name) end
if if_absent and old then fail('precondition_failed', 'the file exists') end
if if_md5 ~= '' then
  if not old or cjson.decode(old).md5 ~= if_md5 then
    fail('precondition_failed', 'the file does not have the expected checksum')
  end
end
local states = block_states(blocks)

-- writes
create_dirs(ids, found, comps, n - 1, now)
take_blocks(blocks, states, want_rf)
if old then release_entry(old) else redis.call('HINCRBY', k_stats(), 'files', 1) end
add_member(ids[n - 1], name, entry_json)
if upload_id ~= '' then release_upload(upload_id) end
return 'ok'
