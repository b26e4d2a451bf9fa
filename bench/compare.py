"""Compares several bench/run.sh results side by side: builds or settings measured in
alternating runs of the same scenarios (say, BENCH_SCENARIOS=flood with two binaries).
Standard library only.

    python bench/compare.py OUT.md LABEL=RESULTS_DIR [LABEL=RESULTS_DIR ...]

Each RESULTS_DIR holds one run's results.json. Runs with the same LABEL are one variant;
for each variant and scenario the table gives every run's median and the median of those.
"""

import json
import os
import statistics
import sys

# (target, scenario, what is shown)
ROWS = [
    ("authd-sqlite", "session_during_flood", "GET /api/session during a login flood"),
    ("authd-sqlite", "login_flood_bg", "POST /auth/login, the flood beside it"),
    ("authd-sqlite", "session_hs256", "GET /api/session, idle"),
]


def load(spec):
    label, _, path = spec.partition("=")
    with open(os.path.join(path, "results.json")) as f:
        return label, path, json.load(f)


def fmt(x, digits=1):
    return f"{x:,.{digits}f}"


def main():
    out_path, specs = sys.argv[1], sys.argv[2:]
    runs = [load(s) for s in specs]
    labels = list(dict.fromkeys(label for label, _, _ in runs))
    lines = ["# Side by side\n",
             "Produced by `bench/compare.py` from the `results.json` of each run below; each "
             "figure of a run is that run's median over its wrk runs (`BENCH_RUNS`), the bold "
             "one the median over that variant's runs. Other cores: what processes besides the "
             "server, PostgreSQL and the wrk runs of the scenario used (median over the wrk runs; "
             "‡ above 0.15 of a core: a disturbed run, its figures are worse than the machine can "
             "do); not shown for the flood itself, whose \"other\" holds the /api/session wrk.\n"]
    m = runs[0][2]["meta"].get("machine", {})
    lines.append(f"- machine: {m.get('nproc')} cores ({m.get('cpu')}), Linux {m.get('kernel')}; the runs "
                 "in the order given on the command line: " + ", ".join(label for label, _, _ in runs))
    for label in labels:
        first = next(r for l, _, r in runs if l == label)
        v = first["meta"].get("versions", {})
        st = first["settings"]
        lines.append(f"- **{label}**: {v.get('authd_source')}; settings "
                     f"`{st.get('authd_env') or '(defaults)'}`; "
                     f"{st.get('runs')} x {st.get('duration_s')} s per scenario; "
                     f"{sum(1 for l, _, _ in runs if l == label)} runs of the script")
    lines.append("")
    lines.append("| scenario | variant | req/s per run | **req/s** | p99 per run (ms) | **p99 (ms)** | other cores per run |")
    lines.append("|---|---|---|---|---|---|---|")
    summary = {}
    for target, scenario, title in ROWS:
        for label in labels:
            got = [(p, r["summary"].get(target, {}).get(scenario)) for l, p, r in runs if l == label]
            got = [(p, s) for p, s in got if s]
            if not got:
                continue
            rps = [s["expected_rps"] for _, s in got]
            p99 = [s["p99_ms"] for _, s in got]
            other = [s["cpu_cores"].get("other", 0) for _, s in got]
            summary.setdefault(label, {})[scenario] = {
                "rps_median": statistics.median(rps), "p99_ms_median": statistics.median(p99),
                "rps_runs": rps, "p99_ms_runs": p99, "other_cores_runs": other,
                "results": [p for p, _ in got]}
            lines.append(
                f"| {title} | {label} | {', '.join(fmt(x, 0) for x in rps)} | "
                f"**{fmt(statistics.median(rps), 0)}** | {', '.join(fmt(x, 2) for x in p99)} | "
                f"**{fmt(statistics.median(p99), 2)}** | "
                + ("– |" if scenario == "login_flood_bg" else
                   f"{', '.join(fmt(x, 2) + (' ‡' if x > 0.15 else '') for x in other)} |"))
    lines.append("")
    with open(out_path, "w") as f:
        f.write("\n".join(lines))
    with open(os.path.splitext(out_path)[0] + ".json", "w") as f:
        json.dump(summary, f, indent=1)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
