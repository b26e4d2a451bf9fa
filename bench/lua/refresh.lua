-- POST /auth/refresh with chained single-use refresh tokens.
--
-- Each refresh token can be spent once: the response carries its successor. The thread
-- starts with a pool of tokens read from $BENCH_TOKENS_FILE (one per line, one session
-- per line, more than connections: wrk calls request() once before the run to check the
-- script, and that token is never sent). request() takes a token from the pool;
-- response() puts the successor parsed from a 200 body back. A wrk connection has one
-- request in flight and wrk calls response() before that connection asks request() for
-- its next one, so with >= connections tokens the pool never runs dry while responses
-- succeed. A token is never sent twice (no reliance on REFRESH_REUSE_GRACE). If a
-- refresh fails, its session's chain ends; if the pool is empty the script sends an
-- invalid token, whose 400/401 is counted, so lost chains show up as errors.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local pool = {}
lost_chains = 0

function init(args)
   local path = os.getenv("BENCH_TOKENS_FILE")
   local f = assert(io.open(path, "r"))
   for line in f:lines() do
      if line ~= "" then
         table.insert(pool, line)
      end
   end
   f:close()
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
end

function request()
   local token = table.remove(pool)
   if token == nil then
      token = "pool-empty-invalid-token"
   end
   return wrk.format(nil, nil, nil, '{"refresh_token":"' .. token .. '"}')
end

function response(status, headers, body)
   count_status(status)
   if status == 200 then
      local next_token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
      if next_token then
         table.insert(pool, next_token)
         return
      end
   end
   lost_chains = lost_chains + 1
end
