-- Store one part of a multipart upload, replacing an earlier part of that number.
-- ARGV: prefix, upload_id, key, part_number, part_json, want_rf, nblocks,
--       (block_id, replica_csv, crc)...
local upload_id, key, number, part_json = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local want_rf, nblocks = tonumber(ARGV[6]), tonumber(ARGV[7])
local blocks = {}
for i = 1, nblocks do
  blocks[i] = {ARGV[5 + 3 * i], ARGV[6 + 3 * i], ARGV[7 + 3 * i]}
end

-- validation
if redis.call('HGET', k_upload(upload_id), 'key') ~= key then
  fail('no_such_upload', 'no such upload: ' .. upload_id)
end
local states = block_states(blocks)

-- writes
take_blocks(blocks, states, want_rf)
local old = redis.call('HGET', k_upload(upload_id), number)
if old then release_entry(old) end
redis.call('HSET', k_upload(upload_id), number, part_json)
return 'ok'
