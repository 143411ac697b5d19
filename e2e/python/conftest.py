"""pytest wiring of the matrix-nio suite: which tests are enabled, the hearth binary, and server fixtures.

A test runs only when its name is listed in e2e/enabled.txt as `python <test name>` (or when HEARTH_E2E_ALL=1);
otherwise it is skipped with the endpoints it waits for, taken from its `needs` marker. Every test must carry
`@pytest.mark.needs(...)` naming what of the server it uses, so a skip always says what is missing.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import nio_session
from hearth_harness import REPO_ROOT, HarnessError, HearthOptions, HearthServer, server_class
from synapse_peer import SynapsePeer

ENABLED_LIST = REPO_ROOT / "e2e" / "enabled.txt"
SUITE = "python"
BUILD_TIMEOUT = 1800


def read_enabled(suite: str) -> set[str]:
    """Test names enabled for `suite` in e2e/enabled.txt (`<suite> <test name>` lines; `#` starts a comment)."""
    enabled = set()
    for line in ENABLED_LIST.read_text().splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) == 2 and words[0] == suite:
            enabled.add(words[1])
    return enabled


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs(*endpoints): what of the server the test uses (named in skips)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    enabled = read_enabled(SUITE)
    run_all = os.environ.get("HEARTH_E2E_ALL") == "1"
    names = {item.originalname for item in items}
    if not config.option.keyword and not config.option.markexpr and not names_single_tests(config):
        unknown = sorted(enabled - names)
        if unknown:
            raise pytest.UsageError(f"e2e/enabled.txt names python tests that do not exist: {', '.join(unknown)}")
    for item in items:
        marker = item.get_closest_marker("needs")
        if marker is None or not marker.args:
            raise pytest.UsageError(f"{item.nodeid} has no @pytest.mark.needs(...) naming the endpoints it uses")
        if run_all or item.originalname in enabled:
            continue
        waits_for = ", ".join(marker.args)
        item.add_marker(pytest.mark.skip(reason=f"not enabled in e2e/enabled.txt; waits for: {waits_for}"))


def names_single_tests(config: pytest.Config) -> bool:
    """Whether the command line named single tests (then the enabled list is not checked for unknown names)."""
    return any("::" in arg or arg.endswith(".py") for arg in config.args)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def hearth_binary() -> Path:
    """The hearth binary: $HEARTH_BIN, or a debug build made now (bounded) in $CARGO_TARGET_DIR."""
    binary = os.environ.get("HEARTH_BIN")
    if binary or os.environ.get("HEARTH_E2E_SERVER") == "synapse":
        return Path(binary or "")
    cache = Path(os.environ.get("HEARTH_CACHE", Path.home() / ".cache" / "hearth"))
    target = Path(os.environ.get("CARGO_TARGET_DIR", cache / "target"))
    try:
        subprocess.run(
            ["cargo", "build", "--quiet", "-p", "hearth", "--bin", "hearth"],
            cwd=REPO_ROOT, check=True, timeout=BUILD_TIMEOUT, env={**os.environ, "CARGO_TARGET_DIR": str(target)},
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        raise HarnessError(f"cargo build of hearth failed: {error}") from error
    return target / "debug" / "hearth"


@pytest.fixture
def hearth_factory(hearth_binary: Path, tmp_path: Path, request: pytest.FixtureRequest):
    """Starts servers with the given options; all are stopped (and their databases dropped) after the test.

    When the test failed, each server's log tail is printed (pytest shows it under the failure).
    """
    servers: list[HearthServer] = []

    def start(options: HearthOptions = HearthOptions()) -> HearthServer:
        server = server_class()(hearth_binary, tmp_path / f"hearth{len(servers)}", options)
        servers.append(server)
        server.start()
        return server

    yield start
    failed = any(getattr(getattr(request.node, f"report_{when}", None), "failed", False)
                 for when in ("setup", "call"))
    for server in servers:
        if failed:
            print(f"--- {server.log_path} (tail)\n{server.log_tail()}")
        server.close()


@pytest.fixture
def synapse_peer(tmp_path: Path, request: pytest.FixtureRequest):
    """Starts Synapse federation peers (synapse_peer.SynapsePeer) on loopback; all are closed after the test.

    The database follows HEARTH_E2E_DATABASE (sqlite or postgres). Synapse comes from $HEARTH_CACHE/synapse-venv
    (scripts/e2e/python.sh installs it). When the test failed, each peer's log tail is printed.
    """
    peers: list[SynapsePeer] = []

    def start() -> SynapsePeer:
        peer = SynapsePeer(tmp_path / f"synapse{len(peers)}", os.environ.get("HEARTH_E2E_DATABASE", "sqlite"))
        peers.append(peer)
        peer.start()
        return peer

    yield start
    failed = any(getattr(getattr(request.node, f"report_{when}", None), "failed", False)
                 for when in ("setup", "call"))
    for peer in peers:
        if failed:
            print(f"--- {peer.log_path} (tail)\n{peer.log_tail()}")
        peer.close()


@pytest.fixture
def hearth(hearth_factory) -> HearthServer:
    """A fresh server with open registration (m.login.dummy) and shared-secret registration."""
    return hearth_factory(HearthOptions(registration_open=True, token_required=False))


@pytest.fixture
def hearth_token_only(hearth_factory) -> HearthServer:
    """A fresh server where registration needs a token from `hearth admin invite create`."""
    return hearth_factory(HearthOptions(registration_open=False, token_required=True))


@pytest.fixture
async def alice(hearth: HearthServer):
    """`@alice` registered on `hearth` with m.login.dummy, logged in with nio."""
    client = await nio_session.register(hearth, "alice")
    yield client
    await client.close()


@pytest.fixture
async def bob(hearth: HearthServer):
    """`@bob` registered on `hearth` with m.login.dummy, logged in with nio."""
    client = await nio_session.register(hearth, "bob")
    yield client
    await client.close()


@pytest.fixture
async def room_id(alice, bob) -> str:
    """A private room alice created and invited bob to, which bob joined; both have synced past the join."""
    return await nio_session.alice_and_bob_in_room(alice, bob)
