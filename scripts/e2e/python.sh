#!/usr/bin/env bash
# The matrix-nio end-to-end suite (e2e/python): installs matrix-nio and pytest into the cached venv, builds
# hearth, and runs the tests enabled in e2e/enabled.txt against fresh Hearth servers on loopback. Ends with
# pytest's summary line; exits non-zero when an enabled test fails.
#
#   scripts/e2e/python.sh                          the enabled tests (what scripts/check runs)
#   HEARTH_E2E_ALL=1 scripts/e2e/python.sh         every test, enabled or not
#   scripts/e2e/python.sh -k restart               extra arguments go to pytest
#   HEARTH_E2E_SERVER=synapse scripts/e2e/python.sh    against Synapse instead, to check the scenarios themselves
#   HEARTH_E2E_DATABASE=postgres scripts/e2e/python.sh   on PostgreSQL ($HEARTH_TEST_POSTGRES_URL)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/install.bash"

e2e_install_python
e2e_prepare_server
# The federation peer tests (synapse_peer fixture) run Synapse next to whatever server is under test.
e2e_install_synapse

cd "$E2E_ROOT/e2e/python"
e2e_log "matrix-nio suite against ${HEARTH_E2E_SERVER:-hearth} ${HEARTH_BIN:-} (database: ${HEARTH_E2E_DATABASE:-sqlite})"
exec timeout --kill-after=30 "${HEARTH_E2E_SUITE_TIMEOUT:-1200}" "$E2E_PYTHON" -m pytest "$@"
