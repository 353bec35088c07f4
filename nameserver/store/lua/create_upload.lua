-- Start a multipart upload into an existing bucket (a top-level directory).
-- ARGV: prefix, bucket, key, upload_id, info_json
local bucket, key, upload_id, info_json = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local ids, found = lookup_dirs({bucket}, 1)
if found < 1 then
  if redis.call('HEXISTS', k_dir(ids[0]), bucket) == 1 then
    fail('not_a_directory', 'not a directory: ' .. bucket)
  end
  fail('not_found', 'no such directory: ' .. bucket)
end
redis.call('HSET', k_upload(upload_id), 'dir', ids[1], 'key', key, 'info', info_json)
redis.call('ZADD', k_uploads(ids[1]), 0, key .. '\0' .. upload_id)
return 'ok'
