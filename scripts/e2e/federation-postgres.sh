#!/usr/bin/env bash
# The federation scenarios of the matrix-nio suite again, with Hearth and Synapse both on PostgreSQL
# ($HEARTH_TEST_POSTGRES_URL): the federation issue asks for the Synapse interop on PostgreSQL too, and the
# storage paths of remote events, queues and keys differ per backend. scripts/check runs it after python.sh.
# Extra arguments go to pytest.
set -euo pipefail
export HEARTH_E2E_DATABASE=postgres
exec bash "$(dirname "${BASH_SOURCE[0]}")/python.sh" -k "federation or synapse" "$@"
