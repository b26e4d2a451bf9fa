#!/usr/bin/env python3
"""Static checks of the deployment files (there is no Docker engine in CI).

- docker-compose.yml: services postgres and authd exist; authd depends on
  postgres with condition service_healthy; postgres has a healthcheck, over TCP
  (pg_isready -h); authd has a build (whose Dockerfile exists) or an image;
  every named volume the services use is declared at the top level; nothing
  needs a recent Compose (env_file entries are plain paths, as Compose before
  2.24 and Debian's docker-compose 1.29 read them); and authd's environment
  passes on every configuration key, as ${KEY:-default} from .env or fixed.
- .env.example: every key appears once, commented out as `# KEY=default`, so
  that copying it to .env changes nothing; the contract's configuration table
  is in it; and each key is in the README's configuration table.

The configuration keys are those of .env.example. authd declares each key once
(crates/api/src/config/); the api crate's test config::listed holds
.env.example to those declarations (every key, once, with its default), so
this script reads no Rust.

Run from anywhere: paths are relative to the repository root.
"""

import os
import re
import sys

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))

def env_example_keys():
    """`# KEY=value` lines of .env.example: {key: [line numbers]}, in file order."""
    path = os.path.join(ROOT, ".env.example")
    keys = {}
    if not os.path.isfile(path):
        return keys
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            m = re.match(r"^\s*#\s*([A-Z][A-Z0-9_]*)=", line)
            if m:
                keys.setdefault(m.group(1), []).append(lineno)
    return keys


def config_keys():
    """Every configuration key, from .env.example (see the module docstring)."""
    keys = list(env_example_keys())
    if len(keys) < 10:
        fail(f".env.example: found only {len(keys)} configuration keys; has its '# KEY=default' form changed?")
    return keys


def readme_table_keys():
    path = os.path.join(ROOT, "README.md")
    with open(path, encoding="utf-8") as f:
        return set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", f.read(), re.M))


# Where the HTTP contract may be: beside the clone in CI (shared/), or copied
# into the project's own docs.
CONTRACT_CANDIDATES = [
    os.path.join(ROOT, "..", "shared", "API.md"),
    os.path.join(ROOT, "docs", "API.md"),
]

errors = []


def fail(msg):
    errors.append(msg)


def contract_keys():
    """Keys of the contract's configuration table, or None if no contract is found."""
    for path in CONTRACT_CANDIDATES:
        if not os.path.isfile(path):
            continue
        keys = []
        in_section = False
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.startswith("Configuration keys"):
                    in_section = True
                    continue
                if in_section:
                    m = re.match(r"^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|", line)
                    if m:
                        keys.append(m.group(1))
                    elif keys and not line.startswith("|"):
                        break  # end of the table
        if not keys:
            fail(f"{os.path.relpath(path, ROOT)}: no configuration table found under 'Configuration keys'")
        return os.path.relpath(path, ROOT), keys
    return None, None


def check_compose():
    path = os.path.join(ROOT, "docker-compose.yml")
    if not os.path.isfile(path):
        fail("docker-compose.yml is missing")
        return
    with open(path, encoding="utf-8") as f:
        try:
            doc = yaml.safe_load(f)
        except yaml.YAMLError as e:
            fail(f"docker-compose.yml is not valid YAML: {e}")
            return
    if not isinstance(doc, dict):
        fail("docker-compose.yml: top level is not a mapping")
        return
    services = doc.get("services")
    if not isinstance(services, dict):
        fail("docker-compose.yml: no 'services' mapping")
        return
    for name in ("postgres", "authd"):
        if not isinstance(services.get(name), dict):
            fail(f"docker-compose.yml: service '{name}' is missing")
    pg = services.get("postgres") or {}
    authd = services.get("authd") or {}

    # postgres: healthcheck, over TCP (the Unix socket answers during first-run
    # initialisation, before PostgreSQL listens on TCP)
    hc = pg.get("healthcheck") if isinstance(pg, dict) else None
    if not isinstance(hc, dict) or not hc.get("test") or hc.get("disable"):
        fail("docker-compose.yml: service 'postgres' has no healthcheck test")
    else:
        test = hc["test"] if isinstance(hc["test"], str) else " ".join(map(str, hc["test"]))
        if "pg_isready" in test and not re.search(r"(^|\s)(-h|--host)(\s|=)", test):
            fail("docker-compose.yml: postgres's pg_isready healthcheck must go over TCP (-h 127.0.0.1)")

    # Portable: env_file entries as plain paths (the {path, required} form needs Compose 2.24)
    for sname, svc in services.items():
        if not isinstance(svc, dict) or "env_file" not in svc:
            continue
        entries = svc["env_file"] if isinstance(svc["env_file"], list) else [svc["env_file"]]
        if not all(isinstance(e, str) for e in entries):
            fail(f"docker-compose.yml: service '{sname}' has an env_file entry that is not a plain path (needs Compose 2.24+)")

    # authd's environment passes on every key
    env = authd.get("environment") if isinstance(authd, dict) else None
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
    if not isinstance(env, dict):
        fail("docker-compose.yml: service 'authd' has no environment mapping")
        env = {}
    for key in config_keys():
        value = env.get(key)
        if key not in env:
            fail(f"docker-compose.yml: authd's environment does not pass on {key} (add {key}: ${{{key}:-}})")
        elif isinstance(value, str) and "${" in value and not re.match(r"^\$\{" + key + r"(:?-[^}]*)?\}$", value):
            fail(f"docker-compose.yml: authd's {key} is {value!r}, not ${{{key}:-...}}")

    # authd: depends on postgres being healthy
    deps = authd.get("depends_on") if isinstance(authd, dict) else None
    cond = None
    if isinstance(deps, dict) and isinstance(deps.get("postgres"), dict):
        cond = deps["postgres"].get("condition")
    if cond != "service_healthy":
        fail("docker-compose.yml: service 'authd' must depend on 'postgres' with condition: service_healthy")

    # authd: build or image
    if isinstance(authd, dict):
        build = authd.get("build")
        image = authd.get("image")
        if not build and not image:
            fail("docker-compose.yml: service 'authd' has neither 'build' nor 'image'")
        if build:
            if isinstance(build, str):
                context, dockerfile = build, "Dockerfile"
            elif isinstance(build, dict):
                context = build.get("context", ".")
                dockerfile = build.get("dockerfile", "Dockerfile")
            else:
                fail("docker-compose.yml: service 'authd' has a 'build' that is neither a path nor a mapping")
                context = dockerfile = None
            if context is not None:
                df = os.path.join(ROOT, context, dockerfile)
                if not os.path.isfile(df):
                    fail(f"docker-compose.yml: authd's build has no Dockerfile at {os.path.relpath(df, ROOT)}")

    # named volumes used by services are declared at top level
    declared = doc.get("volumes") or {}
    if not isinstance(declared, dict):
        fail("docker-compose.yml: top-level 'volumes' is not a mapping")
        declared = {}
    used = set()
    for sname, svc in services.items():
        if not isinstance(svc, dict):
            continue
        for v in svc.get("volumes") or []:
            if isinstance(v, str):
                source = v.split(":", 1)[0] if ":" in v else None
            elif isinstance(v, dict):
                source = v.get("source") if v.get("type", "volume") == "volume" else None
            else:
                source = None
            # A named volume is a source that is not a path.
            if source and not source.startswith((".", "/", "~", "$")):
                used.add(source)
    for name in ("pgdata", "authd-data"):
        used.add(name)  # these two must exist whatever the services say
    for name in sorted(used):
        if name not in declared:
            fail(f"docker-compose.yml: named volume '{name}' is used or required but not declared under top-level 'volumes'")


def check_env_example():
    path = os.path.join(ROOT, ".env.example")
    if not os.path.isfile(path):
        fail(".env.example is missing")
        return
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            m = re.match(r"^\s*([A-Z][A-Z0-9_]*)\s*=", line)
            if m:
                fail(f".env.example:{lineno}: {m.group(1)} is set, not commented out (copying the file to .env must change nothing)")
    commented = env_example_keys()

    source, from_contract = contract_keys()
    if source is None:
        print("note: the HTTP contract (shared/API.md) was not found; checking the keys of .env.example only")
        from_contract = []
    else:
        print(f"contract configuration keys read from {source}: {len(from_contract)}")
    keys = config_keys()
    required = keys + [k for k in from_contract if k not in keys]
    in_readme = readme_table_keys()
    for key in required:
        lines = commented.get(key)
        if not lines:
            fail(f".env.example: {key} (from the contract's configuration table) is missing; expected a line '# {key}=<default>'")
        elif len(lines) > 1:
            fail(f".env.example: {key} appears {len(lines)} times (lines {', '.join(map(str, lines))})")
        if key not in in_readme:
            fail(f"README.md: {key} is missing from the configuration table")


def check_dockerfile():
    """Multi-stage, a slim runtime, a non-root user, a HEALTHCHECK, authd as the entry point."""
    path = os.path.join(ROOT, "Dockerfile")
    if not os.path.isfile(path):
        fail("Dockerfile is missing")
        return
    with open(path, encoding="utf-8") as f:
        lines = [l.strip() for l in f if l.strip() and not l.strip().startswith("#")]
    froms = [l for l in lines if l.upper().startswith("FROM ")]
    if len(froms) < 2:
        fail("Dockerfile: not multi-stage (fewer than two FROM lines)")
    elif "slim" not in froms[-1] and "distroless" not in froms[-1]:
        fail(f"Dockerfile: the runtime image is not slim: {froms[-1]}")
    users = [l.split(None, 1)[1] for l in lines if l.upper().startswith("USER ")]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        fail("Dockerfile: the runtime does not switch to a non-root USER")
    if not any(l.upper().startswith("HEALTHCHECK ") for l in lines):
        fail("Dockerfile: no HEALTHCHECK")
    if not any(l.upper().startswith("ENTRYPOINT ") and "authd" in l for l in lines):
        fail("Dockerfile: the ENTRYPOINT is not authd")
    if "--locked" not in " ".join(lines):
        fail("Dockerfile: cargo build without --locked")


def check_systemd_unit():
    """The example unit: the sections and keys a working, graceful, hardened service needs."""
    path = os.path.join(ROOT, "deploy", "authd.service")
    if not os.path.isfile(path):
        fail("deploy/authd.service is missing")
        return
    sections, current = {}, None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("[") and line.endswith("]"):
                current = sections.setdefault(line[1:-1], {})
            elif "=" in line and current is not None:
                key, value = line.split("=", 1)
                current.setdefault(key, []).append(value)
            else:
                fail(f"deploy/authd.service: cannot parse {line!r}")
    service = sections.get("Service", {})
    for key in ("ExecStart", "KillSignal", "TimeoutStopSec", "StateDirectory", "NoNewPrivileges"):
        if key not in service:
            fail(f"deploy/authd.service: [Service] has no {key}")
    if not service.get("ExecStart", [""])[0].startswith("/usr/local/bin/authd"):
        fail("deploy/authd.service: ExecStart does not run authd")
    if "WantedBy" not in sections.get("Install", {}):
        fail("deploy/authd.service: [Install] has no WantedBy")


def main():
    check_compose()
    check_dockerfile()
    check_systemd_unit()
    check_env_example()
    if errors:
        for e in errors:
            print(f"FAIL: {e}", file=sys.stderr)
        print(f"deployment checks: {len(errors)} problem(s)", file=sys.stderr)
        return 1
    print("deployment checks: docker-compose.yml, Dockerfile, deploy/authd.service and .env.example OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
