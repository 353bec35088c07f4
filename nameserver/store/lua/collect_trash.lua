-- Collect up to `batch` entries of the oldest detached directory: files release their
-- blocks, subdirectories join the trash. ARGV: prefix, batch. Returns entries handled.
local batch = tonumber(ARGV[2])
local item = redis.call('LINDEX', k_trash(), 0)
if not item then return 0 end
local id, uncounted = string.match(item, '^([^!]*)(!?)$')
local members = redis.call('ZRANGE', k_dirz(id), 0, batch - 1)
for _, member in ipairs(members) do
  local v = redis.call('HGET', k_dir(id), member)
  if v then
    if string.sub(member, -1) == '/' then
      redis.call('RPUSH', k_trash(), dir_id_of(v) .. uncounted)
    else
      release_entry(v)
      if uncounted == '' then redis.call('HINCRBY', k_stats(), 'files', -1) end
    end
  end
  remove_member(id, member)
end
if redis.call('ZCARD', k_dirz(id)) == 0 then
  redis.call('DEL', k_dir(id), k_dirz(id))
  release_uploads_of(id)
  redis.call('LPOP', k_trash())
end
return #members + 1
