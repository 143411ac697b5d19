#!/usr/bin/env bash
# The matrix-js-sdk end-to-end suite (e2e/node): installs node 22 and the locked npm packages into the cache,
# builds hearth, and runs the scenarios enabled in e2e/enabled.txt with node's built-in test runner against fresh
# Hearth servers on loopback. Ends with the test runner's summary; exits non-zero when an enabled scenario fails.
#
#   scripts/e2e/node.sh                            the enabled scenarios (what scripts/check runs)
#   HEARTH_E2E_ALL=1 scripts/e2e/node.sh           every scenario, enabled or not
#   scripts/e2e/node.sh --test-name-pattern=typing extra arguments go to `node --test`
#   HEARTH_E2E_SERVER=synapse scripts/e2e/node.sh    against Synapse instead, to check the scenarios themselves
#   HEARTH_E2E_DATABASE=postgres scripts/e2e/node.sh    on PostgreSQL ($HEARTH_TEST_POSTGRES_URL)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/install.bash"

e2e_install_node22
e2e_install_node_modules
e2e_prepare_server

cd "$E2E_ROOT/e2e/node"
# Every `node <name>` in e2e/enabled.txt must name a scenario, so a typo cannot silently disable a test.
declared=$(grep -ohE 'scenario\("[a-z0-9_]+"' ./*.test.mjs | sed -E 's/scenario\("(.*)"/\1/' | sort)
while read -r suite name _; do
    [[ "$suite" == node ]] || continue
    grep -qx "$name" <<<"$declared" || e2e_die "e2e/enabled.txt names node scenario '$name', which no e2e/node/*.test.mjs declares"
done < <(sed 's/#.*//' "$E2E_ROOT/e2e/enabled.txt")

e2e_log "matrix-js-sdk suite on node $("$E2E_NODE" --version) against ${HEARTH_E2E_SERVER:-hearth} ${HEARTH_BIN:-} (database: ${HEARTH_E2E_DATABASE:-sqlite})"
# --test-force-exit: matrix-js-sdk leaves its request-timeout timers running (localTimeoutMs), which would hold
# each test file's process open for up to 30 s after its last test.
output=$(mktemp)
trap 'rm -f "$output"' EXIT
status=0
timeout --kill-after=30 "${HEARTH_E2E_SUITE_TIMEOUT:-1200}" "$E2E_NODE" --test --test-concurrency=1 --test-force-exit \
    --test-reporter=spec "$@" ./*.test.mjs 2>&1 | tee "$output" || status=$?
# On failure the spec reporter lists the failed tests after its summary; repeat the summary so it closes the output.
if [[ $status -ne 0 ]]; then
    printf '\nsummary of node --test (repeated from above):\n'
    grep -E '^ℹ (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) ' "$output" || true
fi
exit "$status"
