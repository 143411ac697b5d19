"""The Synapse peer harness (synapse_peer.py) itself: the loopback federation partner of the interop tests."""

from __future__ import annotations

import json
import ssl
import urllib.request

import pytest

from hearth_harness import http_json


@pytest.mark.needs("Synapse from scripts/requirements-synapse.txt (no Hearth endpoint)")
def test_synapse_peer_starts_registers_a_user_and_logs_in(synapse_peer):
    peer = synapse_peer()

    token = peer.register_and_login("alice", "correct horse battery staple")

    request = urllib.request.Request(f"{peer.base_url}/_matrix/client/v3/account/whoami",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.loads(response.read())["user_id"] == f"@alice:{peer.server_name}"
    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    with urllib.request.urlopen(f"{peer.federation_url}/_matrix/key/v2/server", timeout=10,
                                context=unverified) as response:
        keys = json.loads(response.read())
    assert keys["server_name"] == peer.server_name
    assert keys["verify_keys"], "Synapse publishes no signing key on its TLS federation listener"
    status, _ = http_json("POST", f"{peer.base_url}/_matrix/client/v3/login", {
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"}, "password": "wrong",
    })
    assert status == 403
