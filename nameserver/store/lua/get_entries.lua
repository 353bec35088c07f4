-- get_entries: the file entry and the directory entry named by a path, in one round trip.
-- ARGV: prefix, n, comps[1..n] (n >= 1). Returns {file or nil, dir or nil}; both nil when a
-- directory on the way is missing; not_a_directory when a file stands where one is needed.
local n = tonumber(ARGV[2])
local cur = root_id()
for i = 1, n - 1 do
  local name = ARGV[2 + i]
  local v = redis.call('HGET', k_dir(cur), name .. '/')
  if not v then
    if redis.call('HEXISTS', k_dir(cur), name) == 1 then
      fail('not_a_directory', 'not a directory: ' .. name)
    end
    return {false, false}
  end
  cur = dir_id_of(v)
end
local last = ARGV[2 + n]
return redis.call('HMGET', k_dir(cur), last, last .. '/')
