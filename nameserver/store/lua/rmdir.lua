-- Remove a directory. Without recursion it must be empty; with it, the subtree is detached
-- in this one step and pushed to the trash, where GC collects it in batches.
-- With unmark instead, a directory that is not empty only loses its marker (S3 deleting the
-- object "dir/" while keys below it remain): it stays while they do, as an S3 prefix.
-- ARGV: prefix, recursive(0|1), unmark(0|1), n, comps...
local recursive, unmark = ARGV[2] == '1', ARGV[3] == '1'
local comps, n = read_comps(4)
local ids, found = lookup_dirs(comps, n - 1)
require_dirs(ids, found, comps, n - 1)
local member = comps[n] .. '/'
local entry = redis.call('HGET', k_dir(ids[n - 1]), member)
if not entry then
  if redis.call('HEXISTS', k_dir(ids[n - 1]), comps[n]) == 1 then
    fail('not_a_directory', 'not a directory: ' .. comps[n])
  end
  fail('not_found', 'no such directory: ' .. comps[n])
end
local id = dir_id_of(entry)
local count = redis.call('ZCARD', k_dirz(id))
if count > 0 and unmark then
  local implicit = string.gsub(entry, '"m":1', '"m":0', 1)
  redis.call('HSET', k_dir(ids[n - 1]), member, implicit)
  return 'unmarked'
end
if count > 0 and not recursive then fail('not_empty', 'directory not empty: ' .. comps[n]) end
remove_member(ids[n - 1], member)
release_uploads_of(id)
if count == 0 then
  redis.call('DEL', k_dir(id), k_dirz(id))
else
  redis.call('RPUSH', k_trash(), id)
end
prune(ids, comps, n - 1)
return 'ok'
