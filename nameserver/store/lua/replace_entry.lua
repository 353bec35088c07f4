-- Replace a file's entry if it still holds exactly old_json (metadata changes such as
-- tagging, whose blocks and references stay as they are). ARGV: prefix, old_json, new_json,
-- n, comps...
local old_json, new_json = ARGV[2], ARGV[3]
local comps, n = read_comps(4)
local ids, found = lookup_dirs(comps, n - 1)
require_dirs(ids, found, comps, n - 1)
local current = redis.call('HGET', k_dir(ids[n - 1]), comps[n])
if not current then fail('not_found', 'no such file: ' .. comps[n]) end
if current ~= old_json then fail('conflict', 'the file changed meanwhile') end
redis.call('HSET', k_dir(ids[n - 1]), comps[n], new_json)
return 'ok'
