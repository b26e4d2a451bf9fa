#!/usr/bin/env bash
# `docker compose up`, really run: builds the image from the Dockerfile and starts the
# compose file's services on a real Docker engine, then checks health, the README's
# walk-through, a restart, a graceful stop, .env present and absent, and database outages.
# Not part of .ci/run (CI has no engine); run it by hand as root:
#
#   bash .ci/docker/compose_e2e.sh
#
# It sets up what it needs: engine.sh (Docker engine, Compose v2 plugin, Compose v1) and
# standin-images.sh (local stand-ins for rust:1-bookworm, debian:bookworm-slim and
# postgres:16-alpine, since no registry is reachable here). It works on a scratch copy of
# the repository at E2E_REF (default HEAD; `git archive`, so committed files only), which
# differs from the repository in two ways only, both printed:
#   - the Dockerfile's `# syntax=docker/dockerfile:1` line is dropped: it makes BuildKit
#     fetch the docker/dockerfile frontend image from Docker Hub, which cannot be reached
#     here; the engine's built-in frontend reads the rest of the file as it is;
#   - the published port is E2E_PORT (default 18080) rather than 8080, so a run never
#     collides with a test on this shared machine that wants 127.0.0.1:8080; the README's
#     walk-through is run with its URLs rewritten to that port.
#
# Environment:
#   E2E_REF=<commit>       what to check out (default HEAD of this repository)
#   E2E_PORT=18080         host port for authd
#   E2E_BINARY=<path>      fallback: skip the Rust build stage and put this (host-built,
#                          bookworm-compatible) authd binary in the runtime image instead
#   E2E_V1=0               skip the Compose v1 (docker-compose 1.29) checks
#   E2E_BUILD_TIMEOUT=3600 seconds for the image build
#   E2E_KEEP=1             leave the services, volumes and scratch copy in place
#   E2E_PROJECT=authde2e   compose project name
# Every wait is bounded; the run ends with "N passed, N failed" and exits 1 on a failure.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
port=${E2E_PORT:-18080}
base=http://127.0.0.1:$port
project=${E2E_PROJECT:-authde2e}
work=$(mktemp -d /var/tmp/authd-compose-e2e.XXXXXX)
src=$work/src
passed=0
failed=0
failures=()
t0=$(date +%s)

log() { printf '[e2e %4ss] %s\n' "$(($(date +%s) - t0))" "$*"; }
pass() { passed=$((passed + 1)); log "PASS $*"; }
fail() { failed=$((failed + 1)); failures+=("$*"); log "FAIL $*"; }
check() { # check NAME CMD...: pass or fail on CMD's status
    local name=$1
    shift
    if "$@"; then pass "$name"; else fail "$name"; fi
}
compose() { (cd "$src" && timeout 300 docker compose -p "$project" "$@"); }
cid() { compose ps -a -q "$1" 2>/dev/null | head -1; }
state() { docker inspect -f "$2" "$(cid "$1")" 2>/dev/null; }
health() { state "$1" '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}'; }
http() { curl -s -o /dev/null -m 10 -w '%{http_code}' "$@"; }
wait_for() { # wait_for SECONDS DESCRIPTION CMD...: poll CMD every second
    local limit=$1 what=$2 start=$SECONDS
    shift 2
    while ! "$@" >/dev/null 2>&1; do
        if [ $((SECONDS - start)) -ge "$limit" ]; then
            log "gave up after ${limit}s waiting for $what"
            return 1
        fi
        sleep 1
    done
    log "$what after $((SECONDS - start))s"
}
is_healthy() { [ "$(health "$1")" = healthy ]; }
answers() { [ "$(http "$base$1")" = "${2:-200}" ]; }
# The whole log first, then grep: `compose logs | grep -q` fails under pipefail when grep
# stops reading early.
logs() { compose logs --no-color "$@" 2>/dev/null; }
has() { grep -q -- "$2" <<<"$(logs "$1")"; }
count() { grep -c -- "$2" <<<"$(logs "$1")"; }
first_error() { # the first start failure authd logged, either wording
    logs authd | grep -o -m1 -E '(invalid DATABASE_URL|could not reach the database)[^"]*' | cut -c1-240
}
cleanup() {
    if [ "${E2E_KEEP:-0}" = 1 ]; then
        log "kept: $src (project $project)"
        return
    fi
    if [ -f "$src/docker-compose.yml" ]; then
        compose down -v --remove-orphans >/dev/null 2>&1 || true
        (cd "$src" && timeout 120 docker-compose -p "${project}v1" down -v >/dev/null 2>&1) || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# --- engine, images, scratch copy -------------------------------------------------
bash "$here/engine.sh" || exit 1
if [ -n "${E2E_BINARY:-}" ]; then
    STANDIN_SKIP_RUST=1 bash "$here/standin-images.sh" || exit 1
else
    bash "$here/standin-images.sh" || exit 1
fi
ref=${E2E_REF:-HEAD}
mkdir -p "$src"
git -C "$repo" archive "$ref" | tar -x -C "$src" || exit 1
log "scratch copy of $(git -C "$repo" rev-parse --short "$ref") in $src"
if [ "$(head -1 "$src/Dockerfile")" = '# syntax=docker/dockerfile:1' ]; then
    sed -i 1d "$src/Dockerfile"
    log "deviation: Dockerfile's '# syntax=docker/dockerfile:1' dropped (no registry for the frontend image)"
fi
if [ "$port" != 8080 ]; then
    grep -q '"8080:8080"' "$src/docker-compose.yml" || { log "no \"8080:8080\" in docker-compose.yml"; exit 1; }
    sed -i "s/\"8080:8080\"/\"$port:8080\"/" "$src/docker-compose.yml"
    log "deviation: authd published on host port $port"
fi
if [ -n "${E2E_BINARY:-}" ]; then
    # Fallback: the runtime stage as it is, with the binary from the host.
    cp "$E2E_BINARY" "$src/authd.prebuilt"
    strip "$src/authd.prebuilt" 2>/dev/null || true
    {
        printf 'FROM debian:bookworm-slim AS build\nCOPY authd.prebuilt /usr/local/bin/authd\n'
        sed -n '/^FROM debian:bookworm-slim/,$p' "$src/Dockerfile"
    } >"$src/Dockerfile.prebuilt"
    mv "$src/Dockerfile.prebuilt" "$src/Dockerfile"
    log "deviation: FALLBACK build stage replaced by the host binary $E2E_BINARY"
fi
if curl -s -o /dev/null -m 2 "$base/healthz"; then
    log "something already answers on $base; set E2E_PORT"
    exit 1
fi

# --- the compose file as Compose reads it --------------------------------------------
check "compose v2 ($(docker compose version --short)) accepts docker-compose.yml" compose config -q
if [ "${E2E_V1:-1}" = 1 ] && command -v docker-compose >/dev/null; then
    if out=$(cd "$src" && docker-compose -p "${project}v1" config -q 2>&1); then
        pass "compose v1 ($(docker-compose version --short)) accepts docker-compose.yml"
    else
        fail "compose v1 ($(docker-compose version --short)) rejects docker-compose.yml: $out"
    fi
fi

# --- build and first start --------------------------------------------------------------
log "building (bounded by ${E2E_BUILD_TIMEOUT:-3600}s; the workspace's release build is the long part)"
bstart=$SECONDS
if (cd "$src" && timeout "${E2E_BUILD_TIMEOUT:-3600}" docker compose -p "$project" build --progress plain) \
    >"$work/build.log" 2>&1; then
    pass "image built in $((SECONDS - bstart))s"
else
    tail -30 "$work/build.log"
    fail "image build (exit $?, after $((SECONDS - bstart))s)"
    exit 1
fi
log "image: $(docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep "^${project}[-_]authd" | head -1)"

compose up -d >/dev/null 2>&1
check "postgres healthy" wait_for 120 "postgres healthy" is_healthy postgres
check "authd healthy (image HEALTHCHECK)" wait_for 120 "authd healthy" is_healthy authd
check "GET /healthz from the host" answers /healthz
check "GET /readyz from the host" answers /readyz
restarts=$(state authd '{{.RestartCount}}')
if [ "$restarts" = 0 ] && [ -z "$(first_error)" ]; then
    pass "first start: authd did not fail while PostgreSQL initialised"
else
    fail "first start: authd restarted $restarts time(s) while PostgreSQL initialised: $(first_error)"
fi
check "first start logged the generated signing secret" has authd 'generated a signing secret' 
check "the secret file in the authd-data volume is 0600, owned by authd" \
    test "$(compose exec -T authd stat -c '%a %U' /data/jwt_secret 2>/dev/null)" = "600 authd"

# --- the README walk-through --------------------------------------------------------------
awk '/^## A session, step by step/{f=1} f&&/^```sh$/{c=1;next} c&&/^```$/{exit} c{print}' \
    "$src/README.md" | sed "s#127.0.0.1:8080#127.0.0.1:$port#g" >"$work/walkthrough.sh"
out=$(timeout 60 bash -euo pipefail "$work/walkthrough.sh" 2>&1)
printf '%s\n' "$out" | sed 's/^/    /'
if [ "$(grep -c '"username":"alice"' <<<"$out")" -ge 2 ] && grep -qx 204 <<<"$out" \
    && grep -q 'the session has been revoked' <<<"$out"; then
    pass "README walk-through (register, login, /api/me, refresh, logout, revoked)"
else
    fail "README walk-through"
fi

login() { # login [PASSWORD] -> the token pair JSON
    curl -s -m 10 -X POST "$base/auth/login" -H 'Content-Type: application/json' \
        -d "{\"username\": \"alice\", \"password\": \"${1:-correct horse battery staple}\"}"
}
field() { sed -nE "s/.*\"$1\":\"?([^\",}]+)\"?.*/\1/p"; }
me() { http "$base/api/me" -H "Authorization: Bearer $1"; }

# --- restart: state survives ------------------------------------------------------------------
access=$(login | field access_token)
compose restart authd >/dev/null 2>&1
wait_for 90 "authd healthy after restart" is_healthy authd
check "restart: a token issued before it still opens /api/me (secret and session kept)" \
    test "$(me "$access")" = 200
check "restart: alice can still log in" test -n "$(login | field access_token)"
check "restart: no second signing secret generated" \
    test "$(count authd 'generated a signing secret')" = 1

# --- graceful stop -------------------------------------------------------------------------------
s=$SECONDS
compose stop authd >/dev/null 2>&1
took=$((SECONDS - s))
code=$(state authd '{{.State.ExitCode}}')
if [ "$code" = 0 ] && [ "$took" -lt 35 ]; then
    pass "docker compose stop authd: exit 0 after ${took}s (grace 35s)"
else
    fail "docker compose stop authd: exit $code after ${took}s"
fi
logs --tail 5 authd | sed 's/^/    /'
compose start authd >/dev/null 2>&1
wait_for 90 "authd healthy after start" is_healthy authd

# --- .env present, then absent ------------------------------------------------------------------
# ACCESS_TOKEN_TTL from .env must reach authd; DATABASE_URL in .env must lose to the compose
# file's `environment` (alice, who lives in PostgreSQL, can still log in).
printf 'ACCESS_TOKEN_TTL=2m\nDATABASE_URL=sqlite:///data/not-this.db\n' >"$src/.env"
compose up -d >/dev/null 2>&1
wait_for 90 "authd healthy with .env" is_healthy authd
pair=$(login)
check ".env present: ACCESS_TOKEN_TTL=2m applies (expires_in 120)" test "$(field expires_in <<<"$pair")" = 120
check ".env present: DATABASE_URL from the compose file wins (alice found)" \
    test -n "$(field access_token <<<"$pair")"
# Compose's substitution prefers the environment of the shell that runs it to .env.
(cd "$src" && ACCESS_TOKEN_TTL=3m timeout 120 docker compose -p "$project" up -d) >/dev/null 2>&1
wait_for 90 "authd healthy with ACCESS_TOKEN_TTL=3m in the shell" is_healthy authd
log "note: ACCESS_TOKEN_TTL=3m exported in the shell of compose, 2m in .env: authd gave expires_in $(login | field expires_in)"
rm -f "$src/.env"
compose up -d >/dev/null 2>&1
wait_for 90 "authd healthy without .env" is_healthy authd
check ".env absent: compose starts authd with the defaults (expires_in 900)" \
    test "$(login | field expires_in)" = 900

# --- database outage while running ----------------------------------------------------------------
access=$(login | field access_token)
compose stop postgres >/dev/null 2>&1
check "outage: /readyz answers 503" wait_for 30 "/readyz 503" answers /readyz 503
check "outage: /api/me answers 503" test "$(me "$access")" = 503
check "outage: /api/session still answers 200 from the token" \
    test "$(http "$base/api/session" -H "Authorization: Bearer $access")" = 200
check "outage: /healthz still 200" answers /healthz
sleep 20 # longer than the healthcheck interval: a liveness probe must not restart authd
check "outage: authd stays healthy and running (not restarted)" \
    test "$(health authd)/$(state authd '{{.RestartCount}}')" = "healthy/0"
compose start postgres >/dev/null 2>&1
check "outage over: /readyz 200 again without a restart" wait_for 60 "/readyz 200" answers /readyz
check "outage over: /api/me 200 again" test "$(me "$access")" = 200

# --- authd started while the database is down -------------------------------------------------------
# It waits up to DATABASE_CONNECT_TIMEOUT (default 30 s) retrying, then exits naming the
# address and the cause, and `restart: unless-stopped` starts it again.
compose stop >/dev/null 2>&1
(cd "$src" && timeout 120 docker compose -p "$project" up -d --no-deps authd) >/dev/null 2>&1
sleep 15
r=$(state authd '{{.RestartCount}}')
st=$(state authd '{{.State.Status}}')
log "authd started with PostgreSQL down: after 15 s status=$st restarts=$r; its log:"
logs --tail 3 authd | cut -c1-400 | sed 's/^/    /'
if [ "$r" = 0 ] && [ "$st" = running ]; then
    pass "database down at start: authd waits (still running after 15 s)"
else
    fail "database down at start: authd exited and was restarted $r time(s) in 15 s: $(first_error)"
fi
restarted() { [ "$(state authd '{{.RestartCount}}')" -ge 1 ]; }
if wait_for 60 "authd to give up and be restarted" restarted; then
    msg=$(first_error)
    log "its last words: $msg"
    case $msg in
        *"could not reach the database at postgres:5432"*) pass "database down past DATABASE_CONNECT_TIMEOUT: exits naming the address and cause" ;;
        *) fail "database down past DATABASE_CONNECT_TIMEOUT: exit message: $msg" ;;
    esac
else
    fail "database down for 75 s: authd never gave up"
fi
compose start postgres >/dev/null 2>&1
check "database back: authd becomes healthy on its own" wait_for 120 "authd healthy after the database came back" is_healthy authd
check "database back: alice can log in" test -n "$(login | field access_token)"

# --- first run on empty volumes, with a longer socket-only init window --------------------------------
# The official postgres image initialises on a temporary server that listens on the Unix
# socket only; the stand-in does the same and can stretch that window (STANDIN_INIT_DELAY),
# so a health check that passes on the socket alone lets authd start too early.
compose down -v >/dev/null 2>&1
cat >"$work/slow-init.yml" <<'EOF'
services:
  postgres:
    environment:
      STANDIN_INIT_DELAY: "12"
EOF
slow() { (cd "$src" && timeout 150 docker compose -p "$project" -f docker-compose.yml -f "$work/slow-init.yml" "$@"); }
slow up -d postgres >/dev/null 2>&1
seen=never
for _ in $(seq 1 120); do
    if is_healthy postgres; then
        if has postgres 'init process complete'; then seen=after; else seen=before; fi
        break
    fi
    sleep 0.5
done
case $seen in
    after) pass "slow first init: postgres reported healthy only once its initialisation was over (TCP)" ;;
    before) fail "slow first init: postgres reported healthy during its socket-only initialisation" ;;
    *) fail "slow first init: postgres never healthy in 60 s" ;;
esac
slow up -d >/dev/null 2>&1
wait_for 150 "authd healthy after a slow first init" is_healthy authd
r=$(state authd '{{.RestartCount}}')
if [ "$r" = 0 ] && [ -z "$(first_error)" ]; then
    pass "slow first init: authd did not fail"
else
    fail "slow first init: authd started before PostgreSQL accepted TCP and exited ($r restart(s)): $(first_error)"
fi

# --- graceful stop of the whole project ------------------------------------------------------------
s=$SECONDS
compose stop >/dev/null 2>&1
took=$((SECONDS - s))
codes="authd=$(state authd '{{.State.ExitCode}}') postgres=$(state postgres '{{.State.ExitCode}}')"
if [ "$codes" = "authd=0 postgres=0" ] && [ "$took" -lt 35 ]; then
    pass "docker compose stop: $codes after ${took}s"
else
    fail "docker compose stop: $codes after ${took}s"
fi
compose down -v >/dev/null 2>&1

# --- Compose v1 -------------------------------------------------------------------------------------
if [ "${E2E_V1:-1}" = 1 ] && command -v docker-compose >/dev/null; then
    v1() { (cd "$src" && PATH=/usr/bin:$PATH timeout "${E2E_BUILD_TIMEOUT:-3600}" docker-compose -p "${project}v1" "$@"); }
    if v1 config -q >/dev/null 2>&1; then
        # As a Debian user would first type it: v1 builds with its own client, without
        # BuildKit, and the Dockerfile's RUN --mount needs BuildKit.
        if [ -n "${E2E_BINARY:-}" ]; then
            log "compose v1: plain build not judged (the fallback Dockerfile has no RUN --mount)"
        elif out=$(v1 build 2>&1); then
            pass "compose v1: plain 'docker-compose build' builds the image"
        else
            fail "compose v1: plain 'docker-compose build' fails: $(grep -m1 -E 'requires BuildKit|[Ee]rror' <<<"$out" | cut -c1-200)"
        fi
        # With the docker CLI doing the build, with BuildKit: Debian's docker 20.10 CLI has
        # it built in (a newer CLI would need the buildx plugin).
        if COMPOSE_DOCKER_CLI_BUILD=1 DOCKER_BUILDKIT=1 v1 up -d --build >"$work/v1.log" 2>&1; then
            v1_healthy() { [ "$(docker inspect -f '{{.State.Health.Status}}' "${project}v1_authd_1" 2>/dev/null)" = healthy ]; }
            check "compose v1: COMPOSE_DOCKER_CLI_BUILD=1 DOCKER_BUILDKIT=1 up -d --build, authd healthy" \
                wait_for 150 "v1 authd healthy" v1_healthy
            check "compose v1: register answers 201" test "$(http -X POST "$base/auth/register" \
                -H 'Content-Type: application/json' \
                -d '{"username": "bob", "password": "correct horse battery staple"}')" = 201
            s1=$SECONDS
            v1 stop >/dev/null 2>&1
            c1=$(docker inspect -f '{{.State.ExitCode}}' "${project}v1_authd_1" 2>/dev/null)
            check "compose v1: stop, authd exit $c1 after $((SECONDS - s1))s" test "$c1" = 0
        else
            tail -20 "$work/v1.log"
            fail "compose v1: COMPOSE_DOCKER_CLI_BUILD=1 DOCKER_BUILDKIT=1 up -d --build"
        fi
        v1 down -v >/dev/null 2>&1
    else
        log "compose v1: not run further (it rejects the file; see above)"
    fi
fi

log "total $(($(date +%s) - t0))s"
for f in "${failures[@]}"; do log "failed: $f"; done
echo "compose-e2e: $passed passed, $failed failed"
[ "$failed" = 0 ]
