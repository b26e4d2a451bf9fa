-- GET wrk's URL with a different bearer token on each request, cycling through the
-- tokens in $BENCH_TOKENS_FILE (one per line) in order: with more distinct tokens than
-- authd's verified-token cache holds (2 x VERIFIED_TOKEN_CACHE), a token comes back only
-- after the cache has forgotten it, so every request pays a signature check, as the
-- first use of each token does in real traffic.
--
-- The requests are formatted once, in init(); request() only hands the next one out.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local requests = {}
local next_index = 0

function init(args)
   local path = os.getenv("BENCH_TOKENS_FILE")
   local f = assert(io.open(path, "r"))
   for line in f:lines() do
      if line ~= "" then
         table.insert(requests, wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. line }))
      end
   end
   f:close()
   assert(#requests > 0, "no tokens in " .. path)
end

function request()
   next_index = next_index % #requests + 1
   return requests[next_index]
end
