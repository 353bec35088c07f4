-- Abort a multipart upload: its parts release their blocks. ARGV: prefix, upload_id
local upload_id = ARGV[2]
if redis.call('HEXISTS', k_upload(upload_id), 'info') == 0 then
  fail('no_such_upload', 'no such upload: ' .. upload_id)
end
release_upload(upload_id)
return 'ok'
