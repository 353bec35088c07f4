-- Shared by every script (prepended when loaded). ARGV[1] is the key prefix; the key
-- builders mirror nameserver/store/keys.py exactly.
-- Rule: a script validates everything before its first write, because Redis does not roll
-- back a script that fails half-way. Errors are raised as 'PLEN <code> <message>'.
local P = ARGV[1]
local function k_root() return P .. 'root' end
local function k_dirseq() return P .. 'dirseq' end
local function k_dir(id) return P .. 'dir:' .. id end
local function k_dirz(id) return P .. 'dirz:' .. id end
local function k_trash() return P .. 'trash' end
local function k_block(b) return P .. 'block:' .. b end
local function k_replicas(b) return P .. 'replicas:' .. b end
local function k_allocs() return P .. 'allocs' end
local function k_gc() return P .. 'gc' end
local function k_underrep() return P .. 'underrep' end
local function k_excess() return P .. 'excess' end
local function k_server_blocks(s) return P .. 'server-blocks:' .. s end
local function k_server_cmds(s) return P .. 'server-cmds:' .. s end
local function k_stats() return P .. 'stats' end
local function k_upload(u) return P .. 'upload:' .. u end
local function k_uploads(d) return P .. 'uploads:' .. d end
local function k_users() return P .. 'users' end
local function k_user(u) return P .. 'user:' .. u end
local function k_user_keys(u) return P .. 'user-keys:' .. u end
local function k_access_key(a) return P .. 'access-key:' .. a end

local function fail(code, msg)
  error('PLEN ' .. code .. ' ' .. msg, 0)
end

local function root_id()
  local r = redis.call('GET', k_root())
  if not r then
    r = tostring(redis.call('INCR', k_dirseq()))
    redis.call('SET', k_root(), r)
  end
  return r
end

local function dir_id_of(entry_json)
  return string.match(entry_json, '"id":"([^"]*)"')
end

-- Read-only walk of directories comps[first..last] from the root.
-- Returns ids (ids[first-1] = the start dir) and the index of the last directory found.
local function lookup_dirs(comps, last)
  local ids = {}
  ids[0] = root_id()
  for i = 1, last do
    local v = redis.call('HGET', k_dir(ids[i - 1]), comps[i] .. '/')
    if not v then return ids, i - 1 end
    ids[i] = dir_id_of(v)
  end
  return ids, last
end

-- Fail unless directories comps[1..last] all exist (when they must).
local function require_dirs(ids, found, comps, last)
  if found < last then
    local missing = comps[found + 1]
    if redis.call('HEXISTS', k_dir(ids[found]), missing) == 1 then
      fail('not_a_directory', 'not a directory: ' .. missing)
    end
    fail('not_found', 'no such directory: ' .. missing)
  end
end

-- Which missing ancestors of comps[n] a write may create: mode '0' none, '1' all, '2' all
-- but the top-level directory (an S3 bucket must exist before keys go into it).
local function require_parents(ids, found, comps, n, mode)
  if mode == '0' then require_dirs(ids, found, comps, n - 1)
  elseif mode == '2' and n > 1 then require_dirs(ids, found, comps, 1) end
end

local function dir_entry_json(id, marker, now)
  return '{"k":"d","id":"' .. id .. '","m":' .. marker .. ',"t":' .. now .. '}'
end

local function add_member(parent_id, member, value)
  redis.call('HSET', k_dir(parent_id), member, value)
  redis.call('ZADD', k_dirz(parent_id), 0, member)
end

local function remove_member(parent_id, member)
  redis.call('HDEL', k_dir(parent_id), member)
  redis.call('ZREM', k_dirz(parent_id), member)
end

-- Create the directories comps[found+1..last] (a write: call after validation); implicit
-- ones (marker 0, as S3 prefixes) unless `marker` is 1 (mkdir -p).
local function create_dirs(ids, found, comps, last, now, marker)
  for i = found + 1, last do
    local id = tostring(redis.call('INCR', k_dirseq()))
    add_member(ids[i - 1], comps[i] .. '/', dir_entry_json(id, marker or 0, now))
    ids[i] = id
  end
end

-- After something was removed from directory ids[last]: an implicit directory left empty
-- disappears, as an S3 prefix does with its last key; then its parent is checked in turn.
local function prune(ids, comps, last)
  for i = last, 1, -1 do
    if redis.call('ZCARD', k_dirz(ids[i])) > 0 then return end
    local member = comps[i] .. '/'
    local v = redis.call('HGET', k_dir(ids[i - 1]), member)
    if not v or string.find(v, '"m":1', 1, true) then return end
    remove_member(ids[i - 1], member)
    redis.call('DEL', k_dir(ids[i]), k_dirz(ids[i]))
  end
end

local function decref(bid)
  local refs = redis.call('HINCRBY', k_block(bid), 'refs', -1)
  if refs <= 0 then redis.call('SADD', k_gc(), bid) end
end

-- Drop the references a file entry holds on its blocks.
local function release_entry(entry_json)
  local e = cjson.decode(entry_json)
  if e.blocks then
    for _, b in ipairs(e.blocks) do decref(b[1]) end
  end
end

-- The state ('alloc' or 'live') of each block a commit names; fails if one is unknown.
-- blocks: list of {block_id, replica_csv, crc ('' for a block that is already live)}.
local function block_states(blocks)
  local states = {}
  for i, b in ipairs(blocks) do
    local state = redis.call('HGET', k_block(b[1]), 'state')
    if not state then fail('conflict', 'block ' .. b[1] .. ' is not allocated (expired?)') end
    states[i] = state
  end
  return states
end

-- Take one reference on each block (a write): a freshly allocated block becomes live with
-- its acknowledged replicas and CRC32C (which repair copies are checked against) recorded;
-- a live one (copy, part copy) gains a reference.
local function take_blocks(blocks, states, want_rf)
  for i, b in ipairs(blocks) do
    local bid = b[1]
    if states[i] == 'alloc' then
      redis.call('HSET', k_block(bid), 'state', 'live', 'refs', 1, 'crc', b[3])
      redis.call('HDEL', k_block(bid), 'expires')
      redis.call('ZREM', k_allocs(), bid)
      redis.call('HINCRBY', k_stats(), 'blocks', 1)
      states[i] = 'live'
      local count = 0
      for sid in string.gmatch(b[2], '[^,]+') do
        redis.call('SADD', k_replicas(bid), sid)
        redis.call('SADD', k_server_blocks(sid), bid)
        count = count + 1
      end
      if count < want_rf then redis.call('SADD', k_underrep(), bid) end
      if count > want_rf then redis.call('SADD', k_excess(), bid) end
    else
      redis.call('HINCRBY', k_block(bid), 'refs', 1)
    end
  end
end

-- Drop a multipart upload with the references its parts hold (complete, abort, bucket gone).
local function release_upload(upload_id)
  local h = redis.call('HGETALL', k_upload(upload_id))
  local dir, key = nil, nil
  for i = 1, #h, 2 do
    local f, v = h[i], h[i + 1]
    if f == 'dir' then dir = v
    elseif f == 'key' then key = v
    elseif f ~= 'info' then release_entry(v) end
  end
  redis.call('DEL', k_upload(upload_id))
  if dir then redis.call('ZREM', k_uploads(dir), key .. '\0' .. upload_id) end
end

-- A directory is gone: so are the multipart uploads into it.
local function release_uploads_of(dir_id)
  local members = redis.call('ZRANGE', k_uploads(dir_id), 0, -1)
  for _, m in ipairs(members) do
    release_upload(string.match(m, '%z(.*)$'))
  end
  redis.call('DEL', k_uploads(dir_id))
end

local function read_comps(start)
  local n = tonumber(ARGV[start])
  local comps = {}
  for i = 1, n do comps[i] = ARGV[start + i] end
  return comps, n, start + n + 1
end

local function k_lease(duty) return P .. 'lease:' .. duty end
