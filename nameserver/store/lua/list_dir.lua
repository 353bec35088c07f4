-- One page of a directory's members in byte order, with their entries (read-only).
-- ARGV: prefix, min, max, limit, n, comps...  Returns {found(0|1), member, value, ...}.
local min, max, limit = ARGV[2], ARGV[3], tonumber(ARGV[4])
local comps, n = read_comps(5)
local ids, found = lookup_dirs(comps, n)
if found < n then
  require_dirs(ids, found, comps, n)
end
local id = ids[n]
local members = redis.call('ZRANGEBYLEX', k_dirz(id), min, max, 'LIMIT', 0, limit)
local out = {}
for _, m in ipairs(members) do
  local v = redis.call('HGET', k_dir(id), m)
  if v then
    out[#out + 1] = m
    out[#out + 1] = v
  end
end
return out
