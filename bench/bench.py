"""Helpers for bench/run.sh: start a server and time it to ready, make users and tokens
(10,000 distinct access tokens through refresh chains), time argon2id, read criterion's
estimates, wait for a server to go idle, pick a free port.

Standard library only, except `argon2` (argon2-cffi, from bench/.venv). Every loop is
bounded in count and time, and every request goes to the URL it is given (127.0.0.1).
"""

import argparse
import concurrent.futures
import http.client
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse


def request(url, method="GET", body=None, headers=None, timeout=30.0):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        hdrs = {"Content-Type": "application/json"} if data is not None else {}
        hdrs.update(headers or {})
        conn.request(method, u.path or "/", body=data, headers=hdrs)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def cmd_freeport(_args):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])


def cmd_launch(args):
    """Spawns the command (left running), polls the URL every ~2 ms until it answers 200,
    prints the milliseconds from spawn to that first 200. Exit 1 if it never does."""
    log = open(args.log, "ab")
    t0 = time.monotonic()
    proc = subprocess.Popen(
        args.cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        cwd=args.cwd or None,
    )
    with open(args.pidfile, "w") as f:
        f.write(str(proc.pid))
    u = urllib.parse.urlsplit(args.url)
    deadline = t0 + args.timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            print(f"launch: the server exited with {proc.returncode}; see {args.log}",
                  file=sys.stderr)
            sys.exit(1)
        try:
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=2)
            conn.request("GET", u.path)
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                print(f"{(time.monotonic() - t0) * 1000:.1f}")
                return
        except OSError:
            pass
        time.sleep(0.002)
    print(f"launch: {args.url} not 200 within {args.timeout} s; see {args.log}",
          file=sys.stderr)
    sys.exit(1)


def cmd_register(args):
    status, body = request(args.url + "/auth/register", "POST",
                           {"username": args.username, "password": args.password})
    if status != 201:
        sys.exit(f"register: HTTP {status}: {body[:300]!r}")


def login_once(url, username, password):
    status, body = request(url + "/auth/login", "POST",
                           {"username": username, "password": password})
    if status != 200:
        raise RuntimeError(f"login: HTTP {status}: {body[:300]!r}")
    return json.loads(body)


def cmd_tokens(args):
    """Logs in COUNT times (a few at once) and writes one FIELD per line to OUT."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.parallel) as pool:
        futures = [pool.submit(login_once, args.url, args.username, args.password)
                   for _ in range(args.count)]
        pairs = [f.result(timeout=120) for f in futures]
    with open(args.out, "w") as f:
        for p in pairs:
            f.write(p[args.field] + "\n")


def refresh_chain(url, refresh_token, count, deadline):
    """Spends `refresh_token` and each successor in turn, `count` times, over one kept-alive
    connection; returns the access tokens received (each a live token of the same session:
    a refresh rotates the refresh token, the access tokens it issued before stay valid)."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    out = []
    try:
        for _ in range(count):
            if time.monotonic() > deadline:
                raise RuntimeError(f"refresh: not done within the time limit ({len(out)} tokens)")
            body = json.dumps({"refresh_token": refresh_token}).encode()
            conn.request("POST", "/auth/refresh", body=body,
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200:
                raise RuntimeError(f"refresh: HTTP {resp.status}: {data[:300]!r}")
            pair = json.loads(data)
            refresh_token = pair["refresh_token"]
            out.append(pair["access_token"])
    finally:
        conn.close()
    return out


def cmd_access_tokens(args):
    """Writes COUNT distinct access tokens, one per line, all valid: SESSIONS logins, then
    each session's refresh token spent again and again (one chain per session, the chains
    side by side), each refresh giving a new access token. Bounded by --max seconds."""
    deadline = time.monotonic() + args.max
    sessions = min(args.sessions, args.count)
    with concurrent.futures.ThreadPoolExecutor(max_workers=sessions) as pool:
        pairs = list(pool.map(lambda _: login_once(args.url, args.username, args.password),
                              range(sessions)))
        tokens = [p["access_token"] for p in pairs]
        left = args.count - len(tokens)
        shares = [left // sessions + (1 if i < left % sessions else 0) for i in range(sessions)]
        chains = [pool.submit(refresh_chain, args.url, p["refresh_token"], n, deadline)
                  for p, n in zip(pairs, shares)]
        for c in chains:
            tokens += c.result(timeout=max(deadline - time.monotonic(), 1))
    if len(set(tokens)) != args.count:
        sys.exit(f"access-tokens: {len(set(tokens))} distinct tokens, {args.count} wanted")
    with open(args.out, "w") as f:
        for t in tokens:
            f.write(t + "\n")


def cmd_criterion(args):
    """Prints, as JSON, criterion's estimates (ns) of every benchmark of one group:
    {"<name>": {"median_ns", "mean_ns", "median_ci_ns": [lower, upper]}}, read from
    DIR/<group>/<name>/new/estimates.json as `cargo bench` leaves them."""
    group = os.path.join(args.dir, args.group)
    out = {}
    for name in sorted(os.listdir(group)):
        path = os.path.join(group, name, "new", "estimates.json")
        if not os.path.isfile(path):
            continue
        with open(path) as f:
            e = json.load(f)
        ci = e["median"]["confidence_interval"]
        out[name] = {"median_ns": e["median"]["point_estimate"],
                     "mean_ns": e["mean"]["point_estimate"],
                     "median_ci_ns": [ci["lower_bound"], ci["upper_bound"]]}
    if not out:
        sys.exit(f"criterion: no estimates under {group}")
    print(json.dumps(out))


def cmd_check(args):
    """One request; exit 1 unless the status is the expected one."""
    headers = {"Authorization": "Bearer " + args.token} if args.token else {}
    status, body = request(args.url, headers=headers)
    if status != args.expect:
        sys.exit(f"check {args.url}: HTTP {status} (expected {args.expect}): {body[:300]!r}")


def cmd_argon2(args):
    """Median time of one argon2id verification with authd's parameters, with
    argon2-cffi (the reference C implementation), one at a time; and the throughput
    of NPROC processes verifying at once (to see whether the cores scale)."""
    from argon2 import PasswordHasher, Type

    ph = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1,
                        hash_len=32, salt_len=16, type=Type.ID)
    h = ph.hash("correct horse battery staple")
    ph.verify(h, "correct horse battery staple")  # warm up
    times = []
    for _ in range(args.runs):
        t = time.perf_counter()
        ph.verify(h, "correct horse battery staple")
        times.append(time.perf_counter() - t)
    result = {
        "implementation": "argon2-cffi (reference C implementation)",
        "params": {"m_kib": 19456, "t": 2, "p": 1},
        "runs": args.runs,
        "median_ms": statistics.median(times) * 1000,
        "min_ms": min(times) * 1000,
        "max_ms": max(times) * 1000,
    }
    # Parallel: nproc processes, started together behind a barrier once warmed up, each
    # verifying `runs` times; throughput = sum of each process's runs / its own time.
    n = os.cpu_count() or 1
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(n)
    with ctx.Pool(n, initializer=_init_worker, initargs=(barrier,)) as pool:
        elapsed = pool.map(_verify_many, [(h, args.runs)] * n)
    result["parallel_processes"] = n
    result["parallel_verifications_per_s"] = sum(args.runs / e for e in elapsed)
    print(json.dumps(result))


_BARRIER = None


def _init_worker(barrier):
    global _BARRIER
    _BARRIER = barrier


def _verify_many(a):
    from argon2 import PasswordHasher, Type

    h, runs = a
    ph = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1,
                        hash_len=32, salt_len=16, type=Type.ID)
    ph.verify(h, "correct horse battery staple")  # warm up
    _BARRIER.wait(timeout=60)
    t = time.perf_counter()
    for _ in range(runs):
        ph.verify(h, "correct horse battery staple")
    return time.perf_counter() - t


def process_table():
    """{pid: (ppid, utime + stime ticks, comm)} of every process."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                text = f.read()
        except OSError:
            continue
        comm = text[text.index("(") + 1:text.rindex(")")]
        fields = text.rsplit(")", 1)[1].split()
        table[int(entry)] = (int(fields[1]), int(fields[11]) + int(fields[12]), comm)
    return table


def tree_ticks(pid, table=None):
    """utime + stime of PID and all its descendants (gunicorn's workers, say)."""
    table = table or process_table()
    if pid not in table:
        raise ProcessLookupError(pid)
    total = 0
    for p, (_, ticks, _) in table.items():
        q, hops = p, 0
        while q and q != pid and hops < 64:
            q, hops = table.get(q, (0,))[0], hops + 1
        if q == pid:
            total += ticks
    return total


def database_ticks(table):
    """utime + stime of the PostgreSQL server's processes (the database authd uses)."""
    return sum(t for _, t, comm in table.values() if comm.startswith("postgres"))


def cmd_wait_idle(args):
    """Waits until the process uses under 10% of a core for two samples in a row
    (e.g. a server still hashing abandoned logins after a flood). Prints seconds waited."""
    t0 = time.monotonic()
    hz = os.sysconf("SC_CLK_TCK")
    interval = 0.25
    quiet = 0
    last = tree_ticks(args.pid)
    while time.monotonic() - t0 < args.max:
        time.sleep(interval)
        now = tree_ticks(args.pid)
        busy = (now - last) / hz / interval
        last = now
        quiet = quiet + 1 if busy < 0.10 else 0
        if quiet >= 2:
            break
    print(f"{time.monotonic() - t0:.2f}")


def cmd_disturbed(args):
    """Exit 0 when the run whose CPU accounting is in --cpu was disturbed: other processes
    used more than --threshold cores meanwhile."""
    with open(args.cpu) as f:
        cpu = json.load(f)
    other = cpu.get("other_s")
    sys.exit(0 if other is not None and other / cpu["wall_s"] > args.threshold else 1)


def cmd_quiet(args):
    """Waits until, over two 0.5 s windows in a row, the server is idle and the rest of
    the machine (PostgreSQL apart) uses under --threshold cores. Exit 0 when it is so,
    1 after --max seconds. Prints the seconds waited."""
    hz = os.sysconf("SC_CLK_TCK")
    t0 = time.monotonic()
    quiet = 0
    busy0, _ = machine_jiffies()
    table = process_table()
    server0, db0 = tree_ticks(args.server_pid, table), database_ticks(table)
    while time.monotonic() - t0 < args.max:
        w0 = time.monotonic()
        time.sleep(0.5)
        busy1, _ = machine_jiffies()
        table = process_table()
        server1, db1 = tree_ticks(args.server_pid, table), database_ticks(table)
        wall = time.monotonic() - w0
        server = (server1 - server0) / hz / wall
        other = (busy1 - busy0 - (server1 - server0) - max(db1 - db0, 0)) / hz / wall
        busy0, server0, db0 = busy1, server1, db1
        quiet = quiet + 1 if server < 0.1 and other < args.threshold else 0
        if quiet >= 2:
            print(f"{time.monotonic() - t0:.1f}")
            return
    print(f"{time.monotonic() - t0:.1f}")
    sys.exit(1)


def cmd_rss(args):
    """Samples VmRSS and the thread count of PID every 100 ms while process WHILE_PID
    lives (bounded by --max seconds); prints JSON with the max VmRSS and threads seen and
    VmHWM at the end (KiB)."""
    def status():
        out = {}
        with open(f"/proc/{args.pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "Threads"):
                    out[k] = int(v.split()[0])
        return out

    t0 = time.monotonic()
    max_rss = 0
    max_threads = 0
    samples = 0
    while time.monotonic() - t0 < args.max:
        s = status()
        max_rss = max(max_rss, s["VmRSS"])
        max_threads = max(max_threads, s["Threads"])
        samples += 1
        if not os.path.exists(f"/proc/{args.while_pid}"):
            break
        time.sleep(0.1)
    s = status()
    print(json.dumps({"max_vmrss_kib": max(max_rss, s["VmRSS"]), "vmhwm_kib": s["VmHWM"],
                      "max_threads": max(max_threads, s["Threads"]),
                      "vmrss_after_kib": s["VmRSS"], "samples": samples}))


def machine_jiffies():
    """(busy, steal) jiffies of all CPUs from /proc/stat; busy excludes idle and iowait."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (v + [0] * 8)[:8]
    return user + nice + system + irq + softirq + steal, steal


def cmd_measure(args):
    """Runs the command (wrk) and writes to --out the CPU the machine, the server, the
    PostgreSQL server, the command and everything else used meanwhile, in CPU seconds: so
    a run disturbed by other work on the machine (a build, another benchmark) can be told
    from a slow one."""
    hz = os.sysconf("SC_CLK_TCK")
    busy0, steal0 = machine_jiffies()
    table = process_table()
    server0, db0 = tree_ticks(args.server_pid, table), database_ticks(table)
    t0 = time.monotonic()
    proc = subprocess.Popen(args.cmd)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t0
    busy1, steal1 = machine_jiffies()
    table = process_table()
    try:
        server = (tree_ticks(args.server_pid, table) - server0) / hz
    except ProcessLookupError:
        server = None
    # A PostgreSQL backend that exited meanwhile takes its ticks with it: clamp at 0.
    database = max(database_ticks(table) - db0, 0) / hz
    machine = (busy1 - busy0) / hz
    client = usage.ru_utime + usage.ru_stime
    with open(args.out, "w") as f:
        json.dump({
            "wall_s": round(wall, 3), "cores": os.cpu_count(),
            "machine_busy_s": round(machine, 3), "steal_s": round((steal1 - steal0) / hz, 3),
            "server_s": None if server is None else round(server, 3),
            "database_s": round(database, 3),
            "client_s": round(client, 3),
            "other_s": None if server is None else round(max(machine - server - database - client, 0), 3),
        }, f)
    code = os.waitstatus_to_exitcode(status)
    sys.exit(code if code >= 0 else 1)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="cmd_name", required=True)

    sub.add_parser("freeport").set_defaults(fn=cmd_freeport)

    s = sub.add_parser("launch")
    s.add_argument("--pidfile", required=True)
    s.add_argument("--log", required=True)
    s.add_argument("--url", required=True)
    s.add_argument("--cwd")
    s.add_argument("--timeout", type=float, default=60)
    s.add_argument("cmd", nargs=argparse.REMAINDER)
    s.set_defaults(fn=cmd_launch)

    s = sub.add_parser("register")
    s.add_argument("--url", required=True)
    s.add_argument("--username", required=True)
    s.add_argument("--password", required=True)
    s.set_defaults(fn=cmd_register)

    s = sub.add_parser("tokens")
    s.add_argument("--url", required=True)
    s.add_argument("--username", required=True)
    s.add_argument("--password", required=True)
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--field", choices=["access_token", "refresh_token"], required=True)
    s.add_argument("--parallel", type=int, default=4)
    s.add_argument("--out", required=True)
    s.set_defaults(fn=cmd_tokens)

    s = sub.add_parser("access-tokens")
    s.add_argument("--url", required=True)
    s.add_argument("--username", required=True)
    s.add_argument("--password", required=True)
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--sessions", type=int, default=8)
    s.add_argument("--max", type=float, default=300)
    s.add_argument("--out", required=True)
    s.set_defaults(fn=cmd_access_tokens)

    s = sub.add_parser("criterion")
    s.add_argument("--dir", required=True)
    s.add_argument("--group", required=True)
    s.set_defaults(fn=cmd_criterion)

    s = sub.add_parser("check")
    s.add_argument("--url", required=True)
    s.add_argument("--token")
    s.add_argument("--expect", type=int, default=200)
    s.set_defaults(fn=cmd_check)

    s = sub.add_parser("argon2")
    s.add_argument("--runs", type=int, default=30)
    s.set_defaults(fn=cmd_argon2)

    s = sub.add_parser("measure")
    s.add_argument("--server-pid", type=int, required=True)
    s.add_argument("--out", required=True)
    s.add_argument("cmd", nargs=argparse.REMAINDER)
    s.set_defaults(fn=cmd_measure)

    s = sub.add_parser("disturbed")
    s.add_argument("--cpu", required=True)
    s.add_argument("--threshold", type=float, default=0.2)
    s.set_defaults(fn=cmd_disturbed)

    s = sub.add_parser("quiet")
    s.add_argument("--server-pid", type=int, required=True)
    s.add_argument("--threshold", type=float, default=0.1)
    s.add_argument("--max", type=float, default=30)
    s.set_defaults(fn=cmd_quiet)

    s = sub.add_parser("wait-idle")
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--max", type=float, default=20)
    s.set_defaults(fn=cmd_wait_idle)

    s = sub.add_parser("rss")
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--while-pid", type=int, required=True)
    s.add_argument("--max", type=float, default=120)
    s.set_defaults(fn=cmd_rss)

    args = p.parse_args()
    if args.cmd_name in ("launch", "measure") and args.cmd and args.cmd[0] == "--":
        args.cmd = args.cmd[1:]
    args.fn(args)


if __name__ == "__main__":
    main()
