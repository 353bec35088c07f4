-- One page of a bucket's multipart uploads in key order, then initiation order (read-only).
-- ARGV: prefix, bucket, min, max, limit. Returns {member, info_json, ...}.
local bucket, min, max, limit = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local ids, found = lookup_dirs({bucket}, 1)
if found < 1 then fail('not_found', 'no such directory: ' .. bucket) end
local members = redis.call('ZRANGEBYLEX', k_uploads(ids[1]), min, max, 'LIMIT', 0, limit)
local out = {}
for _, m in ipairs(members) do
  out[#out + 1] = m
  out[#out + 1] = redis.call('HGET', k_upload(string.match(m, '%z(.*)$')), 'info') or '{}'
end
return out
