"""Server discovery as matrix-nio does it: /.well-known/matrix/client names the homeserver's base URL."""

import pytest
from nio import DiscoveryInfoResponse

from nio_session import expect, new_client


@pytest.mark.needs("GET /.well-known/matrix/client")
async def test_nio_discovers_homeserver_base_url_through_well_known(hearth):
    client = new_client(hearth)
    try:
        response = expect(await client.discovery_info(), DiscoveryInfoResponse, "discovery_info")
        assert response.homeserver_url.rstrip("/") == hearth.base_url
    finally:
        await client.close()
