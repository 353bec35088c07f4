-- Create a directory with a marker (kept when empty), and with `parents` its missing
-- ancestors too, as `mkdir -p` does; an implicit directory becomes explicit.
-- ARGV: prefix, now, parents(0|1|2, see require_parents), parent_marker(0|1), exist_ok(0|1), n, comps...  Returns {entry_json, created}.
local now, parents, parent_marker, exist_ok = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5] == '1'
local comps, n = read_comps(6)
local ids, found = lookup_dirs(comps, n - 1)
require_parents(ids, found, comps, n, parents)
local member = comps[n] .. '/'
local existing = nil
if found == n - 1 then existing = redis.call('HGET', k_dir(ids[n - 1]), member) end
if existing then
  if not exist_ok then fail('already_exists', 'directory exists: ' .. comps[n]) end
  if string.find(existing, '"m":0', 1, true) then
    existing = string.gsub(existing, '"m":0', '"m":1', 1)
    redis.call('HSET', k_dir(ids[n - 1]), member, existing)
  end
  return {existing, 0}
end
create_dirs(ids, found, comps, n - 1, now, parent_marker)
local entry = dir_entry_json(tostring(redis.call('INCR', k_dirseq())), 1, now)
add_member(ids[n - 1], member, entry)
return {entry, 1}
