-- GET wrk's URL, with "Authorization: Bearer $BENCH_TOKEN" when BENCH_TOKEN is set.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

wrk.method = "GET"
local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then
   wrk.headers["Authorization"] = "Bearer " .. token
end
