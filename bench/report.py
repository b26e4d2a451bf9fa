"""Turns bench/run.sh's raw records (one JSON object per line) into results.json,
results.md and results.svg. Standard library only.

    python bench/report.py RAW.jsonl OUT_DIR
"""

import json
import os
import statistics
import sys
from html import escape

# A run is flagged when other processes used more than this many cores meanwhile.
DISTURBED_CORES = 0.15
# Scenarios that run beside another wrk on purpose (its CPU shows as "other"), never
# flagged; session_during_flood has the flood's wrk taken out instead (adjust_for_flood).
CONCURRENT = ("login_flood_bg", "login_flood_rss")

# Every group of scenarios run.sh knows (BENCH_SCENARIOS); a run of fewer is partial.
ALL_GROUPS = ("argon2", "startup", "sqlite", "flood", "rss", "pg", "algorithms", "distinct", "peer")

TARGETS = {
    "authd-sqlite": "authd SQLite",
    "authd-pg": "authd PostgreSQL",
    "peer": "Flask peer",
}

# What each scenario expects: the responses counted as its throughput for the targets.
EXPECTED_STATUS = {
    "healthz": "200",
    "session_hs256": "200",
    "session_invalid": "401",
    "me": "200",
    "refresh": "200",
    "login": "200",
    "login_c1": "200",
    "login_flood_bg": "200",
    "session_during_flood": "200",
    "login_flood_rss": "200",
}


def expected_status(scenario):
    return EXPECTED_STATUS.get(scenario, "200")


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def run_numbers(rec):
    w = rec["wrk"]
    secs = w["duration_us"] / 1e6
    expected = expected_status(rec["scenario"])
    statuses = {k: int(v) for k, v in w["statuses"].items()}
    good = statuses.get(expected, 0)
    return {
        "target": rec["target"],
        "scenario": rec["scenario"],
        "run": rec["run"],
        "attempt": rec.get("attempt", 1),
        "connections": rec["connections"],
        "duration_s": secs,
        "requests": w["requests"],
        "rps": w["requests"] / secs,
        "expected_status": expected,
        "expected_rps": good / secs,
        "statuses": statuses,
        "unexpected": {k: v for k, v in statuses.items() if k != expected},
        "socket_errors": {k: v for k, v in w["errors"].items() if k != "status" and v},
        "latency_ms": {k: v / 1000 for k, v in w["latency_us"].items()},
        "cpu": rec.get("cpu"),
        "other_cores": (rec["cpu"]["other_s"] / rec["cpu"]["wall_s"]
                        if rec.get("cpu") and rec["cpu"].get("other_s") is not None else None),
    }


def adjust_for_flood(runs):
    """session_during_flood runs beside the login flood's wrk, whose CPU shows as "other":
    take that wrk's CPU out, in proportion to the time they overlap (the flood starts 1 s
    before and ends 1 s after), so that what remains is the rest of the machine and a
    disturbed run can be told as in the other scenarios."""
    floods = {(r["target"], r["run"], r["attempt"]): r for r in runs
              if r["scenario"] == "login_flood_bg" and r.get("cpu")}
    for r in runs:
        cpu = r.get("cpu")
        if r["scenario"] != "session_during_flood" or not cpu or cpu.get("other_s") is None:
            continue
        flood = floods.get((r["target"], r["run"], r["attempt"]))
        if not flood:
            continue
        share = flood["cpu"]["client_s"] * min(cpu["wall_s"] / flood["cpu"]["wall_s"], 1.0)
        r["cpu"] = dict(cpu, other_s=round(max(cpu["other_s"] - share, 0), 3),
                        flood_client_s=round(share, 3))
        r["other_cores"] = r["cpu"]["other_s"] / cpu["wall_s"]


def summarise(runs):
    """Medians over the runs of one (target, scenario)."""
    med = statistics.median
    statuses = {}
    sock = {}
    for r in runs:
        for k, v in r["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v
        for k, v in r["socket_errors"].items():
            sock[k] = sock.get(k, 0) + v
    return {
        "runs": len(runs),
        "connections": runs[0]["connections"],
        "rps": med(r["rps"] for r in runs),
        "expected_rps": med(r["expected_rps"] for r in runs),
        "rps_all_runs": [round(r["rps"], 1) for r in runs],
        "p50_ms": med(r["latency_ms"]["p50"] for r in runs),
        "p99_ms": med(r["latency_ms"]["p99"] for r in runs),
        "max_ms": max(r["latency_ms"]["max"] for r in runs),
        "expected_status": runs[0]["expected_status"],
        "statuses_total": statuses,
        "unexpected_total": {k: v for k, v in statuses.items() if k != runs[0]["expected_status"]},
        "socket_errors_total": sock,
        "cpu_cores": cpu_medians(runs),
        # The two-wrk scenarios have another wrk running by design: never flagged.
        "disturbed": runs[0]["scenario"] not in CONCURRENT
        and cpu_medians(runs).get("other", 0) > DISTURBED_CORES,
    }


def cpu_medians(runs):
    """Median cores used during the runs by the server, PostgreSQL, wrk and the rest."""
    out = {}
    for key in ("server_s", "database_s", "client_s", "other_s"):
        vals = [r["cpu"][key] / r["cpu"]["wall_s"] for r in runs
                if r.get("cpu") and r["cpu"].get(key) is not None]
        if vals:
            out[key[:-2]] = round(statistics.median(vals), 2)
    return out


def fmt_rps(x):
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def fmt_ms(x):
    return f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def main():
    raw_path, out_dir = sys.argv[1], sys.argv[2]
    records = load(raw_path)
    meta = next((r for r in records if r["kind"] == "meta"), {})
    settings = next((r for r in records if r["kind"] == "settings"), {})
    timing = next((r for r in records if r["kind"] == "timing"), {})
    argon2 = next((r["result"] for r in records if r["kind"] == "argon2"), None)
    superseded_keys = {(r["target"], r["scenario"], r["run"], r.get("attempt", 1))
                       for r in records if r["kind"] == "superseded"}
    all_runs = [run_numbers(r) for r in records if r["kind"] == "wrk"]
    adjust_for_flood(all_runs)
    key = lambda r: (r["target"], r["scenario"], r["run"], r["attempt"])  # noqa: E731
    runs = [r for r in all_runs if key(r) not in superseded_keys]
    superseded = [r for r in all_runs if key(r) in superseded_keys]
    startup = [r for r in records if r["kind"] == "startup"]
    rss = [r for r in records if r["kind"] == "rss"]
    idle_waits = [r for r in records if r["kind"] == "idle_wait"]

    grouped = {}
    for r in runs:
        grouped.setdefault(r["target"], {}).setdefault(r["scenario"], []).append(r)
    summary = {t: {s: summarise(rs) for s, rs in by.items()} for t, by in grouped.items()}

    def get(target, scenario):
        return summary.get(target, {}).get(scenario)

    nproc = meta.get("machine", {}).get("nproc") or os.cpu_count()
    algorithms = settings.get("algorithms", "HS256").split()

    # ---- targets -----------------------------------------------------------------------
    targets = []

    def target(name, measured, goal, ok, note=""):
        targets.append({"target": name, "measured": measured, "goal": goal,
                        "pass": bool(ok), "note": note})

    # A run of some groups only (BENCH_SCENARIOS) leaves the other targets unchecked.
    partial = "scenarios" in settings and set(settings["scenarios"].split()) != set(ALL_GROUPS)

    def missing(name, goal):
        targets.append({"target": name, "measured": "not measured", "goal": goal,
                        "pass": None if partial else False,
                        "note": "not in this run's BENCH_SCENARIOS" if partial
                        else "scenario missing from this run"})

    for alg in algorithms:
        if alg == "HS256":
            pairs = [("authd-sqlite", "session_hs256", "authd-sqlite", "healthz", "HS256, SQLite server"),
                     ("authd-pg", "session_hs256", "authd-pg", "healthz", "HS256, PostgreSQL server")]
            healthz = ("authd-sqlite", "healthz")
        else:
            pairs = [("authd-sqlite", f"session_{alg}", "authd-sqlite", f"healthz_{alg}", f"{alg}, SQLite server")]
            healthz = ("authd-sqlite", f"healthz_{alg}")
        pairs.append(("authd-sqlite", f"session_{alg}_nocache", *healthz,
                      f"{alg}, verified-token cache off (VERIFIED_TOKEN_CACHE=0)"))
        pairs.append(("authd-sqlite", f"session_{alg}_distinct", *healthz,
                      f"{alg}, {settings.get('distinct_tokens', 10000):,} distinct tokens, cache misses"))
        for t, s_, th, h, label in pairs:
            name = f"/api/session >= 0.9 x /healthz ({label})"
            a, b = get(t, s_), get(th, h)
            if not (a and b):
                missing(name, ">= 0.90")
                continue
            ratio = a["expected_rps"] / b["expected_rps"]
            target(name, f"{ratio:.2f} ({fmt_rps(a['expected_rps'])} / {fmt_rps(b['expected_rps'])} req/s)",
                   ">= 0.90", ratio >= 0.9)

    for key, label in (("session_hs256", "default configuration"),
                       ("session_HS256_nocache", "authd's verified-token cache off")):
        name = f"/api/session >= 10 x Flask peer's /api/session (HS256, {label})"
        a, b = get("authd-sqlite", key), get("peer", "session_hs256")
        if a and b:
            ratio = a["expected_rps"] / b["expected_rps"]
            target(name, f"{ratio:.1f}x ({fmt_rps(a['expected_rps'])} / {fmt_rps(b['expected_rps'])} req/s)",
                   ">= 10x", ratio >= 10)
        else:
            missing(name, ">= 10x")

    t_cffi = argon2["median_ms"] / 1000 if argon2 else None
    c1 = get("authd-sqlite", "login_c1")
    t_authd = 1 / c1["expected_rps"] if c1 and c1["expected_rps"] > 0 else None
    for t in ("authd-sqlite", "authd-pg"):
        lg = get(t, "login")
        label = TARGETS[t]
        for tv, src in ((t_cffi, "argon2-cffi t_verify"), (t_authd, "authd 1-connection login time")):
            name = f"/auth/login >= 0.9 x cores / t_verify ({label}; t_verify = {src})"
            if not (lg and tv):
                missing(name, ">= 0.90")
                continue
            limit = nproc / tv
            ratio = lg["expected_rps"] / limit
            target(name, f"{ratio:.2f} ({fmt_rps(lg['expected_rps'])} req/s vs limit {fmt_rps(limit)} = {nproc} / {tv * 1000:.1f} ms)",
                   ">= 0.90", ratio >= 0.9)

    name = "during a login flood, /api/session keeps >= 0.5 x idle throughput with p99 < 25 ms"
    idle, fl = get("authd-sqlite", "session_hs256"), get("authd-sqlite", "session_during_flood")
    if idle and fl:
        ratio = fl["expected_rps"] / idle["expected_rps"]
        target(name, f"{ratio:.2f} x idle ({fmt_rps(fl['expected_rps'])} / {fmt_rps(idle['expected_rps'])} req/s), p99 {fmt_ms(fl['p99_ms'])} ms",
               ">= 0.50 and p99 < 25 ms", ratio >= 0.5 and fl["p99_ms"] < 25)
    else:
        missing(name, ">= 0.50 and p99 < 25 ms")

    name = f"peak RSS during a {settings.get('rss_connections', 500)}-client login flood < 100 MiB"
    flood_rss = [r for r in rss if r.get("phase") == "flood"]
    before_rss = next((r for r in rss if r.get("phase") == "before"), None)
    peak_kib = None
    if flood_rss:
        peak_kib = max(max(r["rss"]["max_vmrss_kib"], r["rss"]["vmhwm_kib"]) for r in flood_rss)
        note = ""
        if before_rss:
            note = f"{before_rss['rss']['max_vmrss_kib'] / 1024:.1f} MiB before the flood"
        target(name, f"{peak_kib / 1024:.1f} MiB (VmHWM, authd SQLite)", "< 100 MiB",
               peak_kib / 1024 < 100, note)
    else:
        missing(name, "< 100 MiB")

    name = "/auth/refresh on PostgreSQL >= 2000/s"
    rf = get("authd-pg", "refresh")
    if rf:
        target(name, f"{fmt_rps(rf['expected_rps'])} req/s", ">= 2000/s", rf["expected_rps"] >= 2000)
    else:
        missing(name, ">= 2000/s")

    # ---- startup -----------------------------------------------------------------------
    startup_summary = {}
    for r in startup:
        startup_summary.setdefault(r["target"], {}).setdefault(r["state"], []).append(r["ms"])
    startup_summary = {t: {s: {"median_ms": statistics.median(v), "runs_ms": v} for s, v in by.items()}
                       for t, by in startup_summary.items()}

    criterion = next((r for r in records if r["kind"] == "criterion" and r.get("group") == "verify"), None)
    distinct = distinct_analysis(get, algorithms, criterion, nproc)
    token_times = [r for r in records if r["kind"] == "distinct_tokens"]

    results = {
        "meta": meta, "settings": settings, "timing": timing, "argon2": argon2,
        "criterion_verify": criterion, "distinct": distinct, "distinct_token_times": token_times,
        "argon2_estimated_from_authd_ms": t_authd * 1000 if t_authd else None,
        "startup": startup_summary, "rss": rss, "idle_waits": idle_waits,
        "summary": summary, "targets": targets, "runs": runs,
        "superseded_runs": superseded,
    }
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write(markdown(results, get, nproc, peak_kib))
    with open(os.path.join(out_dir, "results.svg"), "w") as f:
        f.write(svg(summary))
    print(markdown_table_only(results, get), end="")


def distinct_analysis(get, algorithms, criterion, nproc):
    """Per algorithm, /api/session with distinct tokens (every request a cache miss) against
    two references from the same run: the /healthz ceiling of the same server, and the
    rate predicted from the ceiling and criterion's verify/<alg> time:

        t_http    = cores / ceiling        CPU time (all cores, wrk included) per /healthz request
        t_verify  = criterion verify/<alg> one signature and claims check, one core
        predicted = cores / (t_http + t_verify)

    On a shared machine the cores are not all ours, and not equally so in both runs; so
    also, from the CPU accounting: c_h and c_d, the CPU time the server and wrk spent per
    response in the ceiling and in the distinct run; per CPU-second, measured ÷ predicted
    is (c_h + t_verify) / c_d.
    """
    estimates = (criterion or {}).get("estimates", {})
    out = {}
    for alg in algorithms:
        d = get("authd-sqlite", f"session_{alg}_distinct")
        h = get("authd-sqlite", "healthz" if alg == "HS256" else f"healthz_{alg}")
        if not (d and h and h["expected_rps"] > 0):
            continue
        row = {"rps": d["expected_rps"], "p50_ms": d["p50_ms"], "p99_ms": d["p99_ms"],
               "disturbed": d["disturbed"] or h["disturbed"], "ceiling_rps": h["expected_rps"],
               "ratio_to_ceiling": d["expected_rps"] / h["expected_rps"],
               "cores": nproc, "t_http_us": nproc / h["expected_rps"] * 1e6}
        cpu_h, cpu_d = cpu_per_response(h), cpu_per_response(d)
        if cpu_h and cpu_d:
            row.update({"cpu_per_response_ceiling_us": cpu_h * 1e6, "cpu_per_response_us": cpu_d * 1e6})
        e = estimates.get(alg)
        if e:
            t_verify = e["median_ns"] / 1e9
            predicted = nproc / (nproc / h["expected_rps"] + t_verify)
            row.update({"t_verify_us": t_verify * 1e6, "predicted_rps": predicted,
                        "ratio_to_predicted": d["expected_rps"] / predicted})
            if cpu_h and cpu_d:
                row["ratio_to_predicted_per_cpu"] = (cpu_h + t_verify) / cpu_d
        out[alg] = row
    return out


def cpu_per_response(s):
    """CPU seconds the server and wrk spent per expected response (medians over the runs)."""
    c = s.get("cpu_cores", {})
    if "server" not in c or "client" not in c or s["expected_rps"] <= 0:
        return None
    return (c["server"] + c["client"]) / s["expected_rps"]


def distinct_section(results):
    d = results["distinct"]
    if not d:
        return []
    st = results["settings"]
    n = st.get("distinct_tokens", 10000)
    out = ["## Token checks with distinct tokens (cache misses)\n"]
    out.append(f"`GET /api/session` with {n:,} distinct access tokens (real tokens of live sessions: "
               "a few logins, then refresh chains), sent in turn (`lua/tokens.lua`), so each token comes "
               "back only after the verified-token cache (2 generations of `VERIFIED_TOKEN_CACHE`, 4,096 by "
               "default) has let it go: every request pays a signature check. Compared with the `/healthz` "
               "ceiling of the same server and with the rate predicted from it and criterion's "
               "`verify/<alg>` (see `bench/README.md`): `t_http = cores / ceiling`, "
               "`predicted = cores / (t_http + t_verify)`.\n")
    out.append("| algorithm | req/s | p99 | ceiling (`/healthz`) | ÷ ceiling | t_http | t_verify (criterion) | predicted | ÷ predicted | CPU per response: ceiling, distinct | ÷ predicted per CPU-second |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for alg, r in d.items():
        mark = " ‡" if r["disturbed"] else ""
        pred = (f"{r['t_verify_us']:.2f} µs | {fmt_rps(r['predicted_rps'])}/s | {r['ratio_to_predicted']:.2f}"
                if "predicted_rps" in r else "– | – | –")
        cpu = (f"{r['cpu_per_response_ceiling_us']:.1f} µs, {r['cpu_per_response_us']:.1f} µs"
               if "cpu_per_response_us" in r else "–")
        per_cpu = f"{r['ratio_to_predicted_per_cpu']:.2f}" if "ratio_to_predicted_per_cpu" in r else "–"
        out.append(f"| {alg} | {fmt_rps(r['rps'])}/s{mark} | {fmt_ms(r['p99_ms'])} ms | {fmt_rps(r['ceiling_rps'])}/s | "
                   f"{r['ratio_to_ceiling']:.2f} | {r['t_http_us']:.2f} µs | {pred} | {cpu} | {per_cpu} |")
    if any(r["disturbed"] for r in d.values()):
        out.append("\n‡: the distinct run or its ceiling was disturbed (other processes used more than "
                   f"{DISTURBED_CORES} of a core): the rate columns are then unreliable; the CPU columns "
                   "much less so (contention still slows each instruction).")
    c = results.get("criterion_verify")
    if c:
        out.append(f"\nt_verify: criterion medians, `cargo bench -p auth-core --bench tokens -- {c.get('args', '')} "
                   "'^verify/'`, run in this same run before the servers.")
        cpu = c.get("cpu") or {}
        if cpu.get("other_s") is not None and cpu.get("wall_s"):
            other = cpu["other_s"] / cpu["wall_s"]
            out.append(f"While criterion ran, other processes used {other:.2f} cores"
                       + (f" (**disturbed**: criterion times wall clock, so t_verify is overstated and the "
                          "prediction too low)" if other > DISTURBED_CORES else "") + ".")
    times = results.get("distinct_token_times") or []
    if times:
        out.append("Getting the tokens (logins + refreshes): " + ", ".join(
            f"{t['algorithm']} {t['seconds']} s" for t in times) + ".")
    out.append("")
    return out


ROWS = [
    # (scenario key per target, label); None = not measured on that target
    ("healthz", "GET /healthz (ceiling)"),
    ("session_hs256", "GET /api/session, valid HS256 token (the same token every request)"),
    ("session_invalid", "GET /api/session, invalid token (401 expected)"),
    ("me", "GET /api/me (store read)"),
    ("refresh", "POST /auth/refresh (chained, single-use tokens)"),
    ("login", "POST /auth/login"),
    ("login_c1", "POST /auth/login, 1 connection"),
    ("session_during_flood", "GET /api/session during a login flood"),
    ("login_flood_bg", "POST /auth/login, the flood beside it"),
    ("login_flood_rss", "POST /auth/login, flood for peak RSS"),
]


def rows_for(summary, algorithms):
    rows = list(ROWS)
    extra = []
    for alg in algorithms:
        if alg != "HS256":
            extra.append((f"healthz_{alg}", f"GET /healthz ({alg} server)"))
            extra.append((f"session_{alg}", f"GET /api/session, valid {alg} token"))
        extra.append((f"session_{alg}_nocache", f"GET /api/session, valid {alg} token, token cache off"))
        extra.append((f"session_{alg}_distinct", f"GET /api/session, distinct valid {alg} tokens (cache misses)"))
    return rows[:3] + extra + rows[3:]


def cell(s):
    if not s:
        return "–"
    text = f"{fmt_rps(s['expected_rps'])}/s, p99 {fmt_ms(s['p99_ms'])} ms"
    if s.get("disturbed"):
        text += " ‡"
    return text


def problems(per_target):
    out = []
    for t, s in per_target:
        if not s:
            continue
        bits = []
        if s["unexpected_total"]:
            bits.append(", ".join(f"{v}x {k}" for k, v in sorted(s["unexpected_total"].items())))
        if s["socket_errors_total"]:
            bits.append("socket " + ", ".join(f"{k} {v}" for k, v in sorted(s["socket_errors_total"].items())))
        if bits:
            out.append(f"**{TARGETS.get(t, t)}: {'; '.join(bits)}**")
    return "; ".join(out) if out else "none"


def table_rows(results, get):
    summary = results["summary"]
    algorithms = results["settings"].get("algorithms", "HS256").split()
    lines = [
        "| scenario | conns | authd SQLite | authd PostgreSQL | Flask peer | SQLite ÷ peer | PostgreSQL ÷ peer | expected status | other statuses / socket errors (all runs) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    rss_target = "authd-sqlite-rss"
    for key, label in rows_for(summary, algorithms):
        sq = get(rss_target if key == "login_flood_rss" else "authd-sqlite", key)
        pg, pe = get("authd-pg", key), get("peer", key)
        if not (sq or pg or pe):
            continue
        conns = next(s["connections"] for s in (sq, pg, pe) if s)
        r1 = f"{sq['expected_rps'] / pe['expected_rps']:.1f}x" if sq and pe and pe["expected_rps"] else "–"
        r2 = f"{pg['expected_rps'] / pe['expected_rps']:.1f}x" if pg and pe and pe["expected_rps"] else "–"
        exp = next(s["expected_status"] for s in (sq, pg, pe) if s)
        lines.append(f"| {label} | {conns} | {cell(sq)} | {cell(pg)} | {cell(pe)} | {r1} | {r2} | {exp} | "
                     f"{problems([('authd-sqlite', sq), ('authd-pg', pg), ('peer', pe)])} |")
    return "\n".join(lines) + "\n"


def markdown_table_only(results, get):
    return table_rows(results, get)


def markdown(results, get, nproc, peak_kib):
    meta, st, v = results["meta"], results["settings"], results["meta"].get("versions", {})
    m = meta.get("machine", {})
    timing = results["timing"]
    out = []
    out.append("# authd benchmark results\n")
    out.append("Produced by `bench/run.sh` (see `bench/README.md`). Every number below comes from "
               "one run of the script; ratios compare measurements taken in that same run.\n")
    out.append("**Read with care:** the load generator (wrk, 1 thread) runs on the same "
               f"{m.get('nproc')} cores as the server under test, over loopback, so every figure is "
               "what the server achieves while sharing the CPU with its client; on its own machine "
               "it would do more. Throughput is responses per second with the scenario's expected "
               "status (200, or 401 for the invalid-token scenario); anything else is listed in the "
               "last column and is not counted. Medians over the runs.\n")

    out.append("## Machine, versions, settings\n")
    out.append(f"- machine: {m.get('nproc')} cores ({m.get('cpu')}), {m.get('memory_mib')} MiB memory, "
               f"Linux {m.get('kernel')}")
    out.append(f"- authd: {v.get('authd_source')}; binary `{v.get('authd_binary')}`; {v.get('rustc')}")
    out.append(f"- load generator: {v.get('wrk')}")
    out.append(f"- peer: Python {v.get('python')}, Flask {v.get('flask')}, gunicorn {v.get('gunicorn')} "
               f"({st.get('peer_workers')} sync workers: one request at a time each, no keep-alive), "
               f"PyJWT {v.get('pyjwt')}, argon2-cffi {v.get('argon2-cffi')}, SQLite (WAL)")
    out.append(f"- settings: {st.get('runs')} runs x {st.get('duration_s')} s per scenario, "
               f"wrk threads {st.get('wrk_threads')}, connections {st.get('connections')} "
               f"(login flood beside /api/session: {st.get('flood_connections')}; peak-RSS flood: "
               f"{st.get('rss_connections')}); authd HTTP_WORKERS={st.get('http_workers')}, "
               f"PASSWORD_HASH_CONCURRENCY={st.get('password_hash_concurrency')}, RUST_LOG={st.get('rust_log')} "
               "(JSON logs to a file), LOGIN_FREE_FAILURES=1000000, REGISTER_RATE_PER_ADDRESS=off, other keys at their defaults")
    if st.get("scenarios"):
        out.append(f"- scenario groups run (`BENCH_SCENARIOS`): {st['scenarios']}"
                   + (f"; extra authd settings (`BENCH_AUTHD_ENV`): `{st['authd_env']}`" if st.get("authd_env") else ""))
    if timing:
        out.append(f"- wall time: {timing.get('total_s')} s in all, of which building authd "
                   f"{timing.get('build_s')} s")
    out.append("")

    out.append("## Throughput and latency\n")
    out.append(table_rows(results, get))
    out.append("‡ disturbed: while these runs went, other processes on the machine used more than "
               f"{DISTURBED_CORES} of a core (median over the runs); the figure is lower than the machine "
               "can do.\n")

    out.append("### Where the CPU went\n")
    out.append(f"Cores used while each scenario ran (medians; the machine has {m.get('nproc')}): the "
               "server under test (with gunicorn's workers for the peer), PostgreSQL, wrk, and anything "
               "else. A server well under the cores while wrk is near 1.0 means the client, not the server, "
               "set the pace.\n")
    out.append("| scenario | server | conns | server | PostgreSQL | wrk | other |")
    out.append("|---|---|---|---|---|---|---|")
    for t, by in results["summary"].items():
        for sc, sm in by.items():
            c = sm.get("cpu_cores", {})
            if c:
                out.append(f"| {sc} | {TARGETS.get(t, t)} | {sm['connections']} | {c.get('server', '–')} | "
                           f"{c.get('database', '–')} | {c.get('client', '–')} | {c.get('other', '–')} |")
    out.append("")

    out.append("## Targets\n")
    out.append("| target | measured | goal | result |")
    out.append("|---|---|---|---|")
    not_run = [t for t in results["targets"] if t["pass"] is None]
    for t in results["targets"]:
        if t["pass"] is None:
            continue
        note = f" ({t['note']})" if t["note"] else ""
        verdict = "not run" if t["pass"] is None else "PASS" if t["pass"] else "**MISS**"
        out.append(f"| {t['target']} | {t['measured']}{note} | {t['goal']} | {verdict} |")
    if not_run:
        out.append(f"\n{len(not_run)} other targets are not measured by this run's scenarios "
                   f"(`BENCH_SCENARIOS={results['settings'].get('scenarios')}`).")
    out.append("")

    out.extend(distinct_section(results))

    a = results["argon2"]
    if a or results["argon2_estimated_from_authd_ms"]:
        out.append("## Password hashing cost\n")
    if a:
        out.append(f"- one argon2id verification (m=19456 KiB, t=2, p=1) with **argon2-cffi** (the "
                   f"reference C implementation, not authd's Rust `argon2` crate): median "
                   f"{a['median_ms']:.2f} ms over {a['runs']} (min {a['min_ms']:.2f}, max {a['max_ms']:.2f}); "
                   f"{a['parallel_processes']} processes at once: {a['parallel_verifications_per_s']:.1f} "
                   f"verifications/s (the limit {nproc} / t_verify would be "
                   f"{nproc / (a['median_ms'] / 1000):.1f}/s)")
    if results["argon2_estimated_from_authd_ms"]:
        out.append(f"- estimated from authd itself: login with 1 connection takes "
                   f"{results['argon2_estimated_from_authd_ms']:.2f} ms per request (an upper bound on "
                   "its t_verify: it includes HTTP, the database and signing)")
    out.append("")

    if results["startup"]:
        out.append("## Start-up time to ready\n")
        out.append("Process spawn to the first 200 from `/readyz` (polled every 2 ms); median (all runs).\n")
        out.append("| server | fresh database (migrations applied) | existing database |")
        out.append("|---|---|---|")
        for t, by in results["startup"].items():
            def c(state):
                x = by.get(state)
                return f"{x['median_ms']:.0f} ms ({', '.join(f'{v:.0f}' for v in x['runs_ms'])})" if x else "–"
            name = TARGETS.get(t, t) + (" (gunicorn to /healthz)" if t == "peer" else "")
            out.append(f"| {name} | {c('fresh')} | {c('existing')} |")
        out.append("")

    if results["rss"]:
        out.append("## Memory\n")
        for r in results["rss"]:
            x = r["rss"]
            if r.get("phase") == "before":
                out.append(f"- fresh authd (SQLite) before the login flood: VmRSS "
                           f"{x['max_vmrss_kib'] / 1024:.1f} MiB, {x.get('max_threads', '?')} threads")
            elif r.get("phase") == "flood":
                out.append(f"- flood run {r['run']}, {r['connections']} clients on /auth/login: max VmRSS "
                           f"(sampled every 100 ms) {x['max_vmrss_kib'] / 1024:.1f} MiB, VmHWM "
                           f"{x['vmhwm_kib'] / 1024:.1f} MiB, at most {x.get('max_threads', '?')} threads")
        ends = [r for r in results["rss"] if r.get("phase") == "server_end"]
        if ends:
            out.append("- peak RSS (VmHWM) of each authd over its whole benchmark, at its stop: " + "; ".join(
                f"{r['target']} {r['rss']['vmhwm_kib'] / 1024:.1f} MiB" for r in ends))
        out.append("")

    notes = []
    # Runs where something besides the server and its wrk used the CPU (the floods run two
    # wrk at once: there the other wrk is expected).
    disturbed = [r for r in results["runs"] if r["other_cores"] is not None
                 and r["other_cores"] > DISTURBED_CORES and r["scenario"] not in CONCURRENT]
    if disturbed:
        worst = sorted(disturbed, key=lambda r: -r["other_cores"])[:8]
        notes.append(f"- **{len(disturbed)} of {len(results['runs'])} runs were disturbed**: other processes on "
                     f"the machine used more than {DISTURBED_CORES} of a core while they ran (worst: " +
                     ", ".join(f"{r['target']}/{r['scenario']} run {r['run']}: {r['other_cores']:.2f}" for r in worst) +
                     "). Their numbers are lower than the machine can do; the median over runs damps this, "
                     "a rerun on a quiet machine removes it.")
    else:
        notes.append(f"- No run was disturbed: besides the server and its wrk, other processes used under "
                     f"{DISTURBED_CORES} of a core during every run (per-run CPU accounting in `results.json`, `runs[].cpu`).")
    if results["superseded_runs"]:
        notes.append(f"- {len(results['superseded_runs'])} runs were disturbed and run again once the machine "
                     f"was quiet ({results['timing'].get('retry_s', '?')} s spent on that, of a budget of "
                     f"{results['settings'].get('retry_budget_s', '?')} s); the first attempts are kept in "
                     "`results.json` under `superseded_runs` and not used above.")
    steal = sum((r["cpu"] or {}).get("steal_s", 0) for r in results["runs"])
    if steal > 1:
        notes.append(f"- The hypervisor stole {steal:.1f} CPU-seconds during the runs (noisy neighbours).")
    waits = [w for w in results["idle_waits"] if w["seconds"] > 1.0]
    out.append("## Notes\n")
    out.extend(notes)
    if waits:
        longest = max(waits, key=lambda w: w["seconds"])
        out.append(f"- After login floods the server stayed busy after wrk stopped (still hashing "
                   f"requests whose clients had gone); the script waited for it to go idle before the "
                   f"next run, up to {longest['seconds']:.1f} s ({TARGETS.get(longest['target'], longest['target'])}, "
                   f"{longest['scenario']}).")
    out.append("")

    out.append("## Per-run numbers\n")
    out.append("All runs are in `results.json` (`runs`: every wrk run with its statuses, socket errors "
               "and latency percentiles; `summary`: the medians above). The chart is `results.svg`.\n")
    return "\n".join(out)


def svg(summary):
    """Horizontal grouped bars, log-scale x axis: responses/s per scenario and server."""
    series = [("authd-sqlite", "authd SQLite", "#1f6feb"), ("authd-pg", "authd PostgreSQL", "#2da44e"),
              ("peer", "Flask peer", "#d1242f")]
    labels = [
        ("healthz", "GET /healthz"),
        ("session_hs256", "GET /api/session HS256"),
        ("session_invalid", "GET /api/session invalid"),
    ]
    scen = summary.get("authd-sqlite", {})
    for a in ("HS256", "EdDSA", "RS256", "ES256"):
        if a != "HS256" and f"session_{a}" in scen:
            labels.append((f"session_{a}", f"GET /api/session {a}"))
        if f"session_{a}_nocache" in scen:
            labels.append((f"session_{a}_nocache", f"GET /api/session {a}, no cache"))
        if f"session_{a}_distinct" in scen:
            labels.append((f"session_{a}_distinct", f"GET /api/session {a}, distinct"))
    labels += [("me", "GET /api/me"), ("refresh", "POST /auth/refresh"), ("login", "POST /auth/login"),
               ("session_during_flood", "/api/session in login flood")]
    rows = []
    for key, label in labels:
        vals = [(name, color, summary.get(t, {}).get(key)) for t, name, color in series]
        vals = [(n, c, s["expected_rps"]) for n, c, s in vals if s]
        if vals:
            rows.append((label, vals))
    import math
    all_vals = [v for _, vals in rows for _, _, v in vals if v > 0] or [1]
    lo = 10 ** math.floor(math.log10(min(all_vals)))
    hi = 10 ** math.ceil(math.log10(max(all_vals)))
    if hi <= lo:
        hi = lo * 10
    left, right, top, bar_h, gap = 230, 90, 60, 14, 12
    width = 960
    plot_w = width - left - right
    height = top + sum(len(v) * bar_h + gap for _, v in rows) + 50

    def x(v):
        v = max(v, lo)
        return left + plot_w * (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="22" font-size="15" font-weight="bold">authd vs Flask peer: '
           f'responses/s (expected status only), median; log scale</text>']
    lx = left
    for _, name, color in series:
        out.append(f'<rect x="{lx}" y="34" width="12" height="12" fill="{color}"/>'
                   f'<text x="{lx + 16}" y="44">{escape(name)}</text>')
        lx += 150
    bottom = height - 40
    p = lo
    while p <= hi:
        out.append(f'<line x1="{x(p):.1f}" y1="{top - 6}" x2="{x(p):.1f}" y2="{bottom}" stroke="#ddd"/>'
                   f'<text x="{x(p):.1f}" y="{bottom + 16}" text-anchor="middle">{p:,.0f}</text>')
        p *= 10
    y = top
    for label, vals in rows:
        group_h = len(vals) * bar_h
        out.append(f'<text x="{left - 8}" y="{y + group_h / 2 + 4:.1f}" text-anchor="end">{escape(label)}</text>')
        for name, color, v in vals:
            out.append(f'<rect x="{left}" y="{y}" width="{max(x(v) - left, 1):.1f}" height="{bar_h - 2}" fill="{color}">'
                       f'<title>{escape(name)}: {v:,.1f}/s</title></rect>'
                       f'<text x="{max(x(v), left) + 4:.1f}" y="{y + bar_h - 4}" font-size="10">{fmt_rps(v)}</text>')
            y += bar_h
        y += gap
    out.append(f'<text x="{left + plot_w / 2}" y="{bottom + 32}" text-anchor="middle">responses per second</text>')
    out.append("</svg>\n")
    return "\n".join(out)


if __name__ == "__main__":
    main()
