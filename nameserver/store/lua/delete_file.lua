-- Remove a file; its blocks lose a reference. ARGV: prefix, if_md5 ('' = none), n, comps...
local if_md5 = ARGV[2]
local comps, n = read_comps(3)
local ids, found = lookup_dirs(comps, n - 1)
require_dirs(ids, found, comps, n - 1)
local old = redis.call('HGET', k_dir(ids[n - 1]), comps[n])
if not old then fail('not_found', 'no such file: ' .. comps[n]) end
if if_md5 ~= '' and cjson.decode(old).md5 ~= if_md5 then
  fail('precondition_failed', 'the file does not have the expected checksum')
end
remove_member(ids[n - 1], comps[n])
release_entry(old)
redis.call('HINCRBY', k_stats(), 'files', -1)
prune(ids, comps, n - 1)
return old
