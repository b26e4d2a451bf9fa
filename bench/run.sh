#!/usr/bin/env bash
# Benchmarks authd (SQLite and PostgreSQL; HS256, EdDSA, RS256, ES256) side by side with
# a Flask + PyJWT peer (bench/peer/app.py), on this machine, in one run, and writes
# bench/results/{results.md,results.json,results.svg}. See bench/README.md.
#
# Knobs (environment):
#   BENCH_SCENARIOS         groups of scenarios to run (default all: argon2 startup sqlite
#                           flood rss pg algorithms distinct peer); see bench/README.md
#   BENCH_DURATION          seconds per wrk run (default 5)
#   BENCH_RUNS              runs per scenario; the median is reported (default 3)
#   BENCH_CONNECTIONS       wrk connections for the ordinary scenarios (default 32)
#   BENCH_FLOOD_CONNECTIONS connections of the login flood run beside /api/session (default 64)
#   BENCH_RSS_CONNECTIONS   connections of the login flood whose peak RSS is taken (default 500)
#   BENCH_STARTUP_RUNS      starts timed per database and state (default 5)
#   BENCH_ALGORITHMS        asymmetric algorithms to measure (default "EdDSA RS256 ES256";
#                           empty: HS256 only)
#   BENCH_DISTINCT_TOKENS   distinct access tokens of the distinct scenario (default 10000)
#   BENCH_CRITERION_ARGS    criterion's options for verify/<alg> (default
#                           "--warm-up-time 1 --measurement-time 3")
#   BENCH_PG_URL            PostgreSQL server, no database (default postgres://postgres@127.0.0.1:5432)
#   BENCH_RUST_LOG          authd's RUST_LOG (default info, authd's own default)
#   BENCH_RETRY_BUDGET      seconds in all for waiting for a quiet machine and running
#                           again the runs other processes disturbed (default 90; 0: never)
#   BENCH_AUTHD_ENV         extra KEY=VALUE settings for every authd started (default none)
#   BENCH_AUTHD_BINARY      benchmark this authd binary, built beforehand (no build)
#   BENCH_GIT_REF           build this commit (git archive) instead of the working tree
#   BENCH_SRC_DIR           where BENCH_GIT_REF is extracted (default /tmp/authd-bench-src)
#   BENCH_RESULTS_DIR       where the results go (default bench/results)
#   CARGO_TARGET_DIR        where cargo builds (default: the workspace's target/)
#
# Every request goes to 127.0.0.1; every loop is bounded; every process and database this
# script starts is stopped or dropped on exit, whatever the exit.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
DURATION=${BENCH_DURATION:-5}
RUNS=${BENCH_RUNS:-3}
CONNS=${BENCH_CONNECTIONS:-32}
FLOOD_CONNS=${BENCH_FLOOD_CONNECTIONS:-64}
RSS_CONNS=${BENCH_RSS_CONNECTIONS:-500}
STARTUP_RUNS=${BENCH_STARTUP_RUNS:-5}
ALGORITHMS=${BENCH_ALGORITHMS-EdDSA RS256 ES256}
ALL_GROUPS="argon2 startup sqlite flood rss pg algorithms distinct peer"
SCENARIOS=${BENCH_SCENARIOS:-$ALL_GROUPS}
DISTINCT=${BENCH_DISTINCT_TOKENS:-10000}
CRITERION_ARGS=${BENCH_CRITERION_ARGS:---warm-up-time 1 --measurement-time 3}
read -r -a AUTHD_ENV <<<"${BENCH_AUTHD_ENV:-}"
PG_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
AUTHD_RUST_LOG=${BENCH_RUST_LOG:-info}
NPROC=$(nproc)
RESULTS=${BENCH_RESULTS_DIR:-$BENCH_DIR/results}
VENV=$BENCH_DIR/.venv
PY=$VENV/bin/python
USERNAME=benchuser
PASSWORD="correct horse battery staple"
JWT_SECRET_VALUE="bench-secret-0123456789abcdef-0123456789abcdef"
WRK_TIMEOUT=60s
RETRY_BUDGET=${BENCH_RETRY_BUDGET:-90}
RETRY_THRESHOLD=0.2
RETRY_SPENT=0
ATTEMPT=1
LAST_OUT=
LAST_KEY=

for v in DURATION RUNS CONNS FLOOD_CONNS RSS_CONNS STARTUP_RUNS RETRY_BUDGET DISTINCT; do
    if ! [[ ${!v} =~ ^[0-9]+$ ]] || { [[ $v != RETRY_BUDGET ]] && ((${!v} == 0)); }; then
        echo "run.sh: $v must be a positive integer, not '${!v}'" >&2
        exit 2
    fi
done

for g in $SCENARIOS; do
    if [[ " $ALL_GROUPS " != *" $g "* ]]; then
        echo "run.sh: BENCH_SCENARIOS: unknown group '$g' (groups: $ALL_GROUPS)" >&2
        exit 2
    fi
done
for kv in "${AUTHD_ENV[@]}"; do
    [[ $kv == [A-Z]*=* ]] || { echo "run.sh: BENCH_AUTHD_ENV: '$kv' is not KEY=VALUE" >&2; exit 2; }
done

# want GROUP: whether BENCH_SCENARIOS asks for that group of scenarios.
want() { [[ " $SCENARIOS " == *" $1 "* ]]; }

WORK=$(mktemp -d /tmp/authd-bench.XXXXXX)
RAW=$WORK/raw.jsonl
: >"$RAW"
PIDS=()
DBS=()
BENCH_OK=0

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# True while PID is a live process (a zombie counts as gone).
alive() {
    local state
    [[ -r /proc/$1/stat ]] || return 1
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ -n $state && $state != Z ]]
}

# TERM, up to 10 s to exit, then KILL.
stop_pid() {
    local pid=$1 i
    alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        alive "$pid" || return 0
        sleep 0.1
    done
    log "pid $pid still running after 10 s: KILL"
    kill -KILL "$pid" 2>/dev/null || true
}

drop_db() {
    psql "$PG_URL/postgres" -qAt -v ON_ERROR_STOP=1 \
        -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null 2>&1 ||
        log "could not drop database $1"
}

cleanup() {
    local rc=$? pid db
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    for db in "${DBS[@]}"; do drop_db "$db"; done
    if [[ $BENCH_OK == 1 ]]; then
        rm -rf "$WORK"
    else
        log "failed (exit $rc); logs and raw data kept in $WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------
# 1. What it needs.

install_prerequisites() {
    if ! command -v wrk >/dev/null; then
        log "installing wrk (apt-get)"
        apt-get install -y -qq wrk >/dev/null || {
            apt-get update -qq && apt-get install -y -qq wrk >/dev/null
        }
    fi
    local req=$BENCH_DIR/requirements.txt stamp=$VENV/.requirements
    if [[ ! -x $PY ]] || ! cmp -s "$req" "$stamp"; then
        log "preparing $VENV"
        [[ -x $PY ]] || python3 -m venv "$VENV"
        "$PY" -m pip install -q --disable-pip-version-check -r "$req"
        cp "$req" "$stamp"
    fi
    command -v psql >/dev/null || { echo "run.sh: psql is needed (PostgreSQL client)" >&2; exit 1; }
    psql "$PG_URL/postgres" -qAt -c 'SELECT 1' >/dev/null ||
        { echo "run.sh: PostgreSQL does not answer at $PG_URL" >&2; exit 1; }
}

# ---------------------------------------------------------------------------------------
# 2. Build.

# Builds the workspace as it is on disk, or, with BENCH_GIT_REF, that commit's tree
# (extracted read-only with `git archive` into BENCH_SRC_DIR), so a benchmark can be taken
# of a commit while the working tree is being edited.
build_authd() {
    local target_dir=${CARGO_TARGET_DIR:-$ROOT/target} src=$ROOT commit
    [[ $target_dir == /* ]] || target_dir=$ROOT/$target_dir
    SRC=$ROOT
    TARGET_DIR=$target_dir
    if [[ -n ${BENCH_AUTHD_BINARY:-} ]]; then
        AUTHD=$(realpath "$BENCH_AUTHD_BINARY")
        [[ -x $AUTHD ]] || { echo "run.sh: BENCH_AUTHD_BINARY: no executable at $AUTHD" >&2; exit 1; }
        AUTHD_COMMIT=unknown
        SOURCE_DESC="prebuilt binary $AUTHD (sha256 $(sha256sum "$AUTHD" | cut -c1-16))"
        log "using $SOURCE_DESC"
        return
    fi
    if [[ -n ${BENCH_GIT_REF:-} ]]; then
        commit=$(git -C "$ROOT" rev-parse --verify "${BENCH_GIT_REF}^{commit}")
        src=${BENCH_SRC_DIR:-/tmp/authd-bench-src}
        if [[ $(cat "$src/.bench-commit" 2>/dev/null) != "$commit" ]]; then
            log "extracting $BENCH_GIT_REF ($commit) into $src"
            rm -rf "$src"
            mkdir -p "$src"
            # -m: files get the time of extraction, so cargo rebuilds what changed.
            git -C "$ROOT" archive "$commit" | tar -x -m -C "$src"
            printf '%s\n' "$commit" >"$src/.bench-commit"
        fi
        SOURCE_DESC="git ref $BENCH_GIT_REF ($commit), extracted to $src"
    else
        commit=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)
        if [[ -n $(git -C "$ROOT" --no-optional-locks status --porcelain -- crates migrations Cargo.toml Cargo.lock 2>/dev/null) ]]; then
            SOURCE_DESC="working tree at $commit, with uncommitted changes"
        else
            SOURCE_DESC="working tree at $commit (clean)"
        fi
    fi
    AUTHD_COMMIT=$commit
    SRC=$src
    log "building authd (release) from $SOURCE_DESC into $target_dir"
    (cd "$src" && CARGO_TARGET_DIR=$target_dir cargo build --release -q -p api --bin authd)
    AUTHD=$target_dir/release/authd
    [[ -x $AUTHD ]] || { echo "run.sh: no binary at $AUTHD" >&2; exit 1; }
}

# ---------------------------------------------------------------------------------------
# Records: one JSON object per line in $RAW; bench/report.py turns them into the results.

record() { printf '%s\n' "$1" >>"$RAW"; }

# new_db: creates a fresh database, named in NEW_DB and dropped on exit. Not to be called
# in $(...): the subshell would lose the note that drops it.
new_db() {
    NEW_DB="authd_bench_$(date +%s)_$$_${RANDOM}"
    DBS+=("$NEW_DB")
    psql "$PG_URL/postgres" -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE $NEW_DB" >/dev/null
}

# start_authd NAME ALGORITHM DATABASE_URL DATA_DIR [KEY=VALUE ...]: starts authd with
# those settings (and the extra ones), waits for /readyz 200.
# Sets SERVER_PID, SERVER_URL, STARTUP_MS.
start_authd() {
    local name=$1 alg=$2 db=$3 dir=$4 port pidfile=$WORK/pid.$1
    shift 4
    local -a envs
    port=$("$PY" "$BENCH_DIR/bench.py" freeport)
    mkdir -p "$dir"
    SERVER_URL=http://127.0.0.1:$port
    envs=(PATH="$PATH" HOME="$dir"
        BIND_ADDR="127.0.0.1:$port" DATABASE_URL="$db" DATA_DIR="$dir"
        JWT_ALGORITHM="$alg" HTTP_WORKERS="$NPROC" LOGIN_FREE_FAILURES=1000000 REGISTER_RATE_PER_ADDRESS=off
        ACCESS_TOKEN_TTL=1h RUST_LOG="$AUTHD_RUST_LOG" LOG_FORMAT=json)
    [[ $alg == HS256 ]] && envs+=(JWT_SECRET="$JWT_SECRET_VALUE")
    envs+=("${AUTHD_ENV[@]}" "$@")
    # The working directory is the data dir, so no stray .env is read.
    STARTUP_MS=$(env -i "${envs[@]}" "$PY" "$BENCH_DIR/bench.py" launch \
        --pidfile "$pidfile" --log "$WORK/authd.$name.log" --cwd "$dir" \
        --url "$SERVER_URL/readyz" -- "$AUTHD") || {
        [[ -s $pidfile ]] && PIDS+=("$(cat "$pidfile")")
        echo "run.sh: authd ($name) did not become ready; tail of its log:" >&2
        tail -n 20 "$WORK/authd.$name.log" >&2
        exit 1
    }
    SERVER_PID=$(cat "$pidfile")
    PIDS+=("$SERVER_PID")
}

start_peer() {
    local port pidfile=$WORK/pid.peer dir=$WORK/peer
    port=$("$PY" "$BENCH_DIR/bench.py" freeport)
    mkdir -p "$dir"
    SERVER_URL=http://127.0.0.1:$port
    STARTUP_MS=$(env -i PATH="$PATH" HOME="$dir" PEER_DB="$dir/peer.db" \
        PEER_JWT_SECRET="$JWT_SECRET_VALUE" PEER_ACCESS_TTL=3600 \
        "$PY" "$BENCH_DIR/bench.py" launch \
        --pidfile "$pidfile" --log "$WORK/peer.log" --cwd "$BENCH_DIR/peer" \
        --url "$SERVER_URL/healthz" -- \
        "$VENV/bin/gunicorn" --workers "$NPROC" --bind "127.0.0.1:$port" --preload \
        --log-level warning app:app) || {
        [[ -s $pidfile ]] && PIDS+=("$(cat "$pidfile")")
        echo "run.sh: the peer did not become ready; tail of its log:" >&2
        tail -n 20 "$WORK/peer.log" >&2
        exit 1
    }
    SERVER_PID=$(cat "$pidfile")
    PIDS+=("$SERVER_PID")
}

# stop_server [LABEL]: with a label, first records the server's peak RSS over its life.
stop_server() {
    if [[ -n ${1:-} ]]; then
        record "{\"kind\":\"rss\",\"target\":\"$1\",\"phase\":\"server_end\",\"rss\":$(helper rss --pid "$SERVER_PID" --while-pid "$SERVER_PID" --max 0)}"
    fi
    stop_pid "$SERVER_PID"
}

helper() { "$PY" "$BENCH_DIR/bench.py" "$@"; }

# Registers the bench user, and sets ACCESS (a valid access token) and BAD_ACCESS (the
# same token with one signature character changed).
prepare_user() {
    helper register --url "$SERVER_URL" --username "$USERNAME" --password "$PASSWORD"
    helper tokens --url "$SERVER_URL" --username "$USERNAME" --password "$PASSWORD" \
        --count 1 --field access_token --out "$WORK/access"
    ACCESS=$(cat "$WORK/access")
    local head=${ACCESS%.*} sig=${ACCESS##*.} c
    c=${sig:5:1}
    [[ $c == A ]] && c=B || c=A
    BAD_ACCESS=$head.${sig:0:5}$c${sig:6}
    helper check --url "$SERVER_URL/api/session" --token "$ACCESS" --expect 200
    helper check --url "$SERVER_URL/api/session" --token "$BAD_ACCESS" --expect 401
}

# wrk_once TARGET SCENARIO RUN URL SCRIPT CONNECTIONS DURATION [VAR=VALUE ...]
# One wrk run (1 thread); its JSON summary goes into $RAW.
wrk_once() {
    local target=$1 scenario=$2 run=$3 url=$4 script=$5 conns=$6 secs=$7
    shift 7
    local out=$WORK/wrk.$target.$scenario.$run.$ATTEMPT.json
    LAST_OUT=$out
    LAST_KEY="\"target\":\"$target\",\"scenario\":\"$scenario\",\"run\":$run,\"attempt\":$ATTEMPT"
    rm -f "$out" "$out.cpu"
    if ! env BENCH_OUT="$out" BENCH_LUA_DIR="$BENCH_DIR/lua" "$@" \
        "$PY" "$BENCH_DIR/bench.py" measure --server-pid "$SERVER_PID" --out "$out.cpu" -- \
        wrk -t1 -c"$conns" -d"${secs}s" --timeout "$WRK_TIMEOUT" \
        -s "$BENCH_DIR/lua/$script" "$url" >"$out.log" 2>&1 || [[ ! -s $out ]]; then
        echo "run.sh: wrk failed for $target/$scenario:" >&2
        cat "$out.log" >&2
        exit 1
    fi
    record "{\"kind\":\"wrk\",$LAST_KEY,\"connections\":$conns,\"duration_s\":$secs,\"cpu\":$(cat "$out.cpu"),\"wrk\":$(cat "$out")}"
    summarize "$target" "$scenario" "$run" "$out"
}

# with_retry COMMAND...: runs COMMAND (one wrk_once). When other processes on the machine
# disturbed that run (more than RETRY_THRESHOLD cores besides the server, PostgreSQL and
# wrk) and the retry budget (BENCH_RETRY_BUDGET seconds in all) allows, waits (at most 15 s)
# for a quiet machine and runs COMMAND once more; the first run stays in the raw data,
# marked superseded. A machine that does not quiet down keeps the disturbed run (flagged).
with_retry() {
    ATTEMPT=1
    "$@"
    local left=$((RETRY_BUDGET - RETRY_SPENT)) t0=$SECONDS max waited
    if ((left > DURATION)) &&
        helper disturbed --cpu "$LAST_OUT.cpu" --threshold "$RETRY_THRESHOLD"; then
        max=$((left - DURATION < 15 ? left - DURATION : 15))
        if waited=$(helper quiet --server-pid "$SERVER_PID" --max "$max"); then
            log "    disturbed by other processes; quiet again after $waited s: run again"
            record "{\"kind\":\"superseded\",$LAST_KEY}"
            ATTEMPT=2
            "$@"
        else
            log "    disturbed by other processes; no quiet within $max s: kept as it is"
        fi
        RETRY_SPENT=$((RETRY_SPENT + SECONDS - t0))
    fi
    ATTEMPT=1
}

summarize() {
    "$PY" - "$@" <<'EOF' >&2
import json, sys
target, scenario, run, path = sys.argv[1:]
w = json.load(open(path))
cpu = json.load(open(path + ".cpu"))
rps = w["requests"] / (w["duration_us"] / 1e6)
st = ", ".join(f"{k}: {v}" for k, v in sorted(w["statuses"].items()))
sock = {k: v for k, v in w["errors"].items() if k != "status" and v}
other = cpu["other_s"] / cpu["wall_s"] if cpu["other_s"] is not None else float("nan")
print(f"    {target:<16} {scenario:<22} run {run}: {rps:10.1f} req/s  "
      f"p99 {w['latency_us']['p99'] / 1000:8.2f} ms  [{st}]  other CPU {other:.2f} cores"
      + (f" socket errors {sock}" if sock else ""))
EOF
}

# wait_idle TARGET SCENARIO: after a login flood the server may still be hashing requests
# whose clients have gone; wait (at most 30 s) until it is idle before the next run.
wait_idle() {
    local waited
    waited=$(helper wait-idle --pid "$SERVER_PID" --max 30)
    record "{\"kind\":\"idle_wait\",\"target\":\"$1\",\"scenario\":\"$2\",\"seconds\":$waited}"
}

# get_scenarios TARGET "NAME|PATH|TOKEN[|TOKENS_FILE]" ...: GET scenarios with their runs
# interleaved (run 1 of each, then run 2 of each, ...), so a drift in the machine's speed
# during the benchmark weighs on all of them alike and their ratios stay fair. With a
# TOKENS_FILE, each request carries the next token of that file (lua/tokens.lua).
get_scenarios() {
    local target=$1 run spec name path token file
    shift
    for ((run = 1; run <= RUNS; run++)); do
        for spec in "$@"; do
            IFS='|' read -r name path token file <<<"$spec"
            if [[ -n $file ]]; then
                with_retry wrk_once "$target" "$name" "$run" "$SERVER_URL$path" tokens.lua \
                    "$CONNS" "$DURATION" BENCH_TOKENS_FILE="$file"
            else
                with_retry wrk_once "$target" "$name" "$run" "$SERVER_URL$path" get.lua \
                    "$CONNS" "$DURATION" BENCH_TOKEN="$token"
            fi
        done
    done
}

# distinct_tokens ALG: writes BENCH_DISTINCT_TOKENS distinct access tokens of the bench
# user, all of live sessions, to $WORK/distinct.ALG (a few logins, then each session's
# refresh token spent again and again: every refresh issues a new access token, and those
# issued before stay valid), checks the first and the last, and sets DISTINCT_FILE.
distinct_tokens() {
    local alg=$1 t0=$SECONDS file=$WORK/distinct.$1
    helper access-tokens --url "$SERVER_URL" --username "$USERNAME" --password "$PASSWORD" \
        --count "$DISTINCT" --sessions $((4 * NPROC)) --max 300 --out "$file"
    helper check --url "$SERVER_URL/api/session" --token "$(head -n 1 "$file")" --expect 200
    helper check --url "$SERVER_URL/api/session" --token "$(tail -n 1 "$file")" --expect 200
    record "{\"kind\":\"distinct_tokens\",\"algorithm\":\"$alg\",\"count\":$DISTINCT,\"seconds\":$((SECONDS - t0))}"
    log "    $DISTINCT distinct $alg access tokens in $((SECONDS - t0)) s"
    wait_idle authd-sqlite "distinct_tokens_$alg"
    DISTINCT_FILE=$file
}

# verify_times: criterion's verify/<alg> (one token verified, no cache), the t_verify of
# the distinct scenario's prediction, from the source being benchmarked; built first, then
# run before any server, so nothing of ours competes with it. The CPU the rest of the
# machine used meanwhile is recorded (as for a wrk run), since criterion times wall clock.
verify_times() {
    local dir=$WORK/criterion
    log "criterion: verify/<alg> (cargo bench -p auth-core --bench tokens -- $CRITERION_ARGS '^verify/')"
    (cd "$SRC" && CARGO_TARGET_DIR=$TARGET_DIR \
        cargo bench -q -p auth-core --bench tokens --no-run >"$WORK/criterion.log" 2>&1) || {
        echo "run.sh: cargo bench failed to build:" >&2
        tail -n 30 "$WORK/criterion.log" >&2
        exit 1
    }
    # shellcheck disable=SC2086 # CRITERION_ARGS is a list of options
    (cd "$SRC" && CRITERION_HOME=$dir CARGO_TARGET_DIR=$TARGET_DIR \
        "$PY" "$BENCH_DIR/bench.py" measure --server-pid $$ --out "$WORK/criterion.cpu" -- \
        cargo bench -q -p auth-core --bench tokens -- $CRITERION_ARGS --noplot '^verify/' \
        >>"$WORK/criterion.log" 2>&1) || {
        echo "run.sh: cargo bench failed:" >&2
        tail -n 30 "$WORK/criterion.log" >&2
        exit 1
    }
    record "{\"kind\":\"criterion\",\"group\":\"verify\",\"args\":\"$CRITERION_ARGS\",\"cpu\":$(cat "$WORK/criterion.cpu"),\"estimates\":$(helper criterion --dir "$dir" --group verify)}"
}

login_once() {
    wrk_once "$1" "$2" "$3" "$SERVER_URL/auth/login" login.lua "$4" "$DURATION" \
        BENCH_USERNAME="$USERNAME" BENCH_PASSWORD="$PASSWORD"
    wait_idle "$1" "$2"
}

login_scenario() {
    local target=$1 name=$2 conns=$3 run
    for ((run = 1; run <= RUNS; run++)); do
        with_retry login_once "$target" "$name" "$run" "$conns"
    done
}

# Each run starts from CONNS + 4 fresh sessions (as many logins), one refresh-token chain
# each: one per connection, plus spares because wrk calls request() once at start-up to
# check the script (that token is never sent).
refresh_scenario() {
    local target=$1 run tokens=$WORK/refresh_tokens
    for ((run = 1; run <= RUNS; run++)); do
        with_retry refresh_once "$target" "$run" "$tokens"
    done
}

refresh_once() {
    helper tokens --url "$SERVER_URL" --username "$USERNAME" --password "$PASSWORD" \
        --count $((CONNS + 4)) --field refresh_token --parallel "$NPROC" --out "$3"
    wait_idle "$1" refresh
    wrk_once "$1" refresh "$2" "$SERVER_URL/auth/refresh" refresh.lua "$CONNS" \
        "$DURATION" BENCH_TOKENS_FILE="$3"
}

# /api/session measured while a login flood (FLOOD_CONNS connections) runs beside it: the
# flood starts 1 s before and ends 1 s after the /api/session run.
flood_scenario() {
    local target=$1 run flood_pid
    for ((run = 1; run <= RUNS; run++)); do
        wrk_once "$target" login_flood_bg "$run" "$SERVER_URL/auth/login" login.lua \
            "$FLOOD_CONNS" $((DURATION + 2)) \
            BENCH_USERNAME="$USERNAME" BENCH_PASSWORD="$PASSWORD" &
        flood_pid=$!
        PIDS+=("$flood_pid")
        sleep 1
        wrk_once "$target" session_during_flood "$run" "$SERVER_URL/api/session" get.lua \
            "$CONNS" "$DURATION" BENCH_TOKEN="$ACCESS"
        wait "$flood_pid"
        wait_idle "$target" login_flood_bg
    done
}

# Peak RSS of a fresh authd while RSS_CONNS clients flood /auth/login.
rss_scenario() {
    local target=authd-sqlite-rss run wrk_pid rss
    start_authd rss HS256 "sqlite://$WORK/rss/auth.db" "$WORK/rss"
    prepare_user
    rss=$(helper rss --pid "$SERVER_PID" --while-pid "$SERVER_PID" --max 0)
    record "{\"kind\":\"rss\",\"target\":\"$target\",\"phase\":\"before\",\"rss\":$rss}"
    for ((run = 1; run <= RUNS; run++)); do
        wrk_once "$target" login_flood_rss "$run" "$SERVER_URL/auth/login" login.lua \
            "$RSS_CONNS" "$DURATION" \
            BENCH_USERNAME="$USERNAME" BENCH_PASSWORD="$PASSWORD" &
        wrk_pid=$!
        PIDS+=("$wrk_pid")
        rss=$(helper rss --pid "$SERVER_PID" --while-pid "$wrk_pid" --max $((DURATION + 90)))
        wait "$wrk_pid"
        record "{\"kind\":\"rss\",\"target\":\"$target\",\"phase\":\"flood\",\"run\":$run,\"connections\":$RSS_CONNS,\"rss\":$rss}"
        log "    peak RSS during run $run: $rss"
        wait_idle "$target" login_flood_rss
    done
    stop_server "$target"
}

# Start-up time: spawn to first 200 /readyz, on a fresh database (migrations applied) and
# on an existing one; STARTUP_RUNS each.
startup_times() {
    local db=$1 i dir name url
    for ((i = 1; i <= STARTUP_RUNS; i++)); do
        dir=$WORK/startup-$db-$i
        if [[ $db == sqlite ]]; then
            url=sqlite://$dir/auth.db
        else
            new_db
            name=$NEW_DB
            url=$PG_URL/$name
        fi
        start_authd "startup-$db-$i" HS256 "$url" "$dir"
        record "{\"kind\":\"startup\",\"target\":\"authd-$db\",\"state\":\"fresh\",\"run\":$i,\"ms\":$STARTUP_MS}"
        stop_server
        start_authd "startup-$db-$i-warm" HS256 "$url" "$dir"
        record "{\"kind\":\"startup\",\"target\":\"authd-$db\",\"state\":\"existing\",\"run\":$i,\"ms\":$STARTUP_MS}"
        stop_server
        if [[ $db == pg ]]; then drop_db "$name"; fi
    done
}

versions() {
    local wrk_version
    wrk_version=$(wrk --version 2>&1 | head -n 1 || true)
    "$PY" - "$AUTHD_COMMIT" "$SOURCE_DESC" "$wrk_version" "$(rustc --version)" "$AUTHD" <<'EOF'
import importlib.metadata as md, json, platform, sys, os
commit, source, wrk, rustc, authd = sys.argv[1:]
cpu = "unknown"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip()
        break
mem_kib = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
print(json.dumps({"kind": "meta", "versions": {
    "rustc": rustc, "authd_commit": commit, "authd_source": source,
    "authd_binary": authd, "wrk": wrk, "python": platform.python_version(),
    "flask": md.version("flask"), "gunicorn": md.version("gunicorn"),
    "pyjwt": md.version("pyjwt"), "argon2-cffi": md.version("argon2-cffi")},
    "machine": {"nproc": os.cpu_count(), "cpu": cpu, "memory_mib": mem_kib // 1024,
                "kernel": platform.release()}}))
EOF
}

# ---------------------------------------------------------------------------------------

main() {
    local started=$SECONDS t_build alg run t gets
    install_prerequisites
    build_authd
    t_build=$((SECONDS - started))
    if want distinct; then verify_times; fi
    record "$(versions)"
    record "{\"kind\":\"settings\",\"scenarios\":\"$SCENARIOS\",\"duration_s\":$DURATION,\"runs\":$RUNS,\"connections\":$CONNS,\"flood_connections\":$FLOOD_CONNS,\"rss_connections\":$RSS_CONNS,\"startup_runs\":$STARTUP_RUNS,\"wrk_threads\":1,\"http_workers\":$NPROC,\"password_hash_concurrency\":\"default ($NPROC)\",\"authd_env\":\"${AUTHD_ENV[*]}\",\"distinct_tokens\":$DISTINCT,\"peer_workers\":$NPROC,\"rust_log\":\"$AUTHD_RUST_LOG\",\"retry_budget_s\":$RETRY_BUDGET,\"algorithms\":\"HS256 $ALGORITHMS\"}"

    if want argon2; then
        log "argon2id verification time with argon2-cffi (m=19456 KiB, t=2, p=1)"
        record "{\"kind\":\"argon2\",\"result\":$(helper argon2 --runs 30)}"
    fi

    if want startup; then
        log "start-up time to ready (${STARTUP_RUNS}x fresh + existing database, SQLite then PostgreSQL)"
        startup_times sqlite
        startup_times pg
    fi

    t=authd-sqlite
    if want sqlite || want flood || want distinct; then
        log "$t (HS256)"
        start_authd sqlite HS256 "sqlite://$WORK/sqlite/auth.db" "$WORK/sqlite"
        prepare_user
        gets=()
        if want sqlite || want distinct; then gets+=("healthz|/healthz|"); fi
        if want sqlite || want flood; then gets+=("session_hs256|/api/session|$ACCESS"); fi
        if want sqlite; then
            gets+=("session_invalid|/api/session|$BAD_ACCESS" "me|/api/me|$ACCESS")
        fi
        if want distinct; then
            distinct_tokens HS256
            gets+=("session_HS256_distinct|/api/session||$DISTINCT_FILE")
        fi
        get_scenarios "$t" "${gets[@]}"
        if want sqlite; then
            refresh_scenario "$t"
            login_scenario "$t" login_c1 1
            login_scenario "$t" login "$CONNS"
        fi
        if want flood; then flood_scenario "$t"; fi
        stop_server "$t"
    fi

    if want rss; then
        log "authd-sqlite: peak RSS under a $RSS_CONNS-client login flood (fresh server)"
        rss_scenario
    fi

    if want pg; then
        t=authd-pg
        log "$t (HS256)"
        new_db
        start_authd pg HS256 "$PG_URL/$NEW_DB" "$WORK/pg"
        prepare_user
        get_scenarios "$t" "healthz|/healthz|" "session_hs256|/api/session|$ACCESS" "me|/api/me|$ACCESS"
        refresh_scenario "$t"
        login_scenario "$t" login "$CONNS"
        stop_server "$t"
    fi

    # Each algorithm on its own server; HS256's default-configuration numbers come from the
    # first server above. Then each algorithm with the verified-token cache off
    # (VERIFIED_TOKEN_CACHE=0; builds without that cache ignore the key), so every request
    # pays the signature check, as the first use of each token does.
    t=authd-sqlite
    for alg in HS256 $ALGORITHMS; do
        if [[ $alg != HS256 ]] && { want algorithms || want distinct; }; then
            log "$t ($alg)"
            start_authd "sqlite-$alg" "$alg" "sqlite://$WORK/sqlite-$alg/auth.db" "$WORK/sqlite-$alg"
            prepare_user
            gets=("healthz_$alg|/healthz|")
            if want algorithms; then gets+=("session_$alg|/api/session|$ACCESS"); fi
            if want distinct; then
                distinct_tokens "$alg"
                gets+=("session_${alg}_distinct|/api/session||$DISTINCT_FILE")
            fi
            get_scenarios "$t" "${gets[@]}"
            stop_server "$t-$alg"
        fi
        if want algorithms; then
            log "$t ($alg, VERIFIED_TOKEN_CACHE=0)"
            start_authd "sqlite-$alg-nocache" "$alg" "sqlite://$WORK/sqlite-$alg-nocache/auth.db" \
                "$WORK/sqlite-$alg-nocache" VERIFIED_TOKEN_CACHE=0
            prepare_user
            get_scenarios "$t" "session_${alg}_nocache|/api/session|$ACCESS"
            stop_server "$t-$alg-nocache"
        fi
    done

    if want peer; then
        t=peer
        log "Flask peer (gunicorn, $NPROC sync workers)"
        start_peer
        record "{\"kind\":\"startup\",\"target\":\"peer\",\"state\":\"fresh\",\"run\":1,\"ms\":$STARTUP_MS}"
        prepare_user
        get_scenarios "$t" "healthz|/healthz|" "session_hs256|/api/session|$ACCESS" \
            "session_invalid|/api/session|$BAD_ACCESS"
        login_scenario "$t" login "$CONNS"
        stop_server
    fi

    record "{\"kind\":\"timing\",\"build_s\":$t_build,\"total_s\":$((SECONDS - started)),\"retry_s\":$RETRY_SPENT}"
    mkdir -p "$RESULTS/tmp"
    # The raw records stay beside the results (gitignored) so report.py can be rerun.
    cp "$RAW" "$RESULTS/tmp/raw.jsonl"
    "$PY" "$BENCH_DIR/report.py" "$RAW" "$RESULTS"
    BENCH_OK=1
    log "done in $((SECONDS - started)) s (build $t_build s): $RESULTS/results.md"
}

main "$@"
