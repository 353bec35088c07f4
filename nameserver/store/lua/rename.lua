-- Move a file or a whole directory in one step. A directory keeps its id, so the move is
-- O(1) whatever lies below it.
-- ARGV: prefix, now, kind('file'|'dir'), overwrite(0|1), parents(0|1),
--       n_src, src comps..., n_dst, dst comps...
local now, kind, overwrite, parents = ARGV[2], ARGV[3], ARGV[4] == '1', ARGV[5] == '1'
local src, ns, pos = read_comps(6)
local dst, nd = read_comps(pos)
local suffix = ''
if kind == 'dir' then suffix = '/' end
local src_member, dst_member = src[ns] .. suffix, dst[nd] .. suffix

local sids, sfound = lookup_dirs(src, ns - 1)
require_dirs(sids, sfound, src, ns - 1)
local entry = redis.call('HGET', k_dir(sids[ns - 1]), src_member)
if not entry then
  if kind == 'dir' then fail('not_found', 'no such directory: ' .. src[ns]) end
  fail('not_found', 'no such file: ' .. src[ns])
end
local dids, dfound = lookup_dirs(dst, nd - 1)
if not parents then require_dirs(dids, dfound, dst, nd - 1) end
local moving = nil
if kind == 'dir' then
  moving = dir_id_of(entry)
  for i = 0, dfound do
    if dids[i] == moving then fail('invalid', 'cannot move a directory into itself') end
  end
end
local old = nil
if dfound == nd - 1 then old = redis.call('HGET', k_dir(dids[nd - 1]), dst_member) end
if old then
  if dids[nd - 1] == sids[ns - 1] and dst_member == src_member then return 'ok' end
  if kind == 'dir' then fail('already_exists', 'directory exists: ' .. dst[nd]) end
  if not overwrite then fail('already_exists', 'file exists: ' .. dst[nd]) end
end

create_dirs(dids, dfound, dst, nd - 1, now)
if old then
  release_entry(old)
  redis.call('HINCRBY', k_stats(), 'files', -1)
end
add_member(dids[nd - 1], dst_member, entry)
remove_member(sids[ns - 1], src_member)
prune(sids, src, ns - 1)
return 'ok'
