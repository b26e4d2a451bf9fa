-- POST a JSON login body: {"username": $BENCH_USERNAME, "password": $BENCH_PASSWORD}.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = string.format('{"username":"%s","password":"%s"}',
   os.getenv("BENCH_USERNAME"), os.getenv("BENCH_PASSWORD"))
