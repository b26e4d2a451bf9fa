# Shared by the .ci scripts: `source .ci/lib.sh` from the repository root. Two rules:
# every script tests one given binary and never builds its own (.ci/run builds it once),
# and every Python tool comes from one venv filled from .ci/requirements.txt.

# ci_authd_bin [PATH]: prints the absolute path of the authd binary to test: PATH, else
# $AUTHD_BIN, else the release build in CARGO_TARGET_DIR (or target/), which is what
# `cargo run --release` runs. Fails, saying how to build it, when there is none.
ci_authd_bin() {
    local bin=${1:-${AUTHD_BIN:-${CARGO_TARGET_DIR:-target}/release/authd}}
    case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
    if [ ! -x "$bin" ]; then
        echo "no authd binary at $bin: build it with" \
            "\`cargo build --release --locked -p api --bin authd\`," \
            "or pass its path (argument or AUTHD_BIN)" >&2
        return 1
    fi
    printf '%s\n' "$bin"
}

# ci_use_venv: puts the venv holding .ci/requirements.txt first on PATH, so `python3` and
# the tools are the pinned ones. The venv (AUTHD_CI_VENV, default $TMPDIR/authd-ci-venv)
# is created and filled with `pip install -r` only when it was filled from another
# requirements file or Python; otherwise this costs one checksum.
ci_use_venv() {
    local venv=${AUTHD_CI_VENV:-${TMPDIR:-/tmp}/authd-ci-venv}
    local stamp="$venv/.filled-from"
    local want
    want="$(python3 -c 'import sys; print(sys.version.split()[0])') $(sha256sum .ci/requirements.txt | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        echo "installing .ci/requirements.txt into $venv"
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            -r .ci/requirements.txt
        printf '%s\n' "$want" >"$stamp"
    fi
    export AUTHD_CI_VENV=$venv
    case ":$PATH:" in *":$venv/bin:"*) ;; *) export PATH="$venv/bin:$PATH" ;; esac
}
