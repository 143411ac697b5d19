"""Accounts through matrix-nio: registration (open and with an invite token), password login, whoami, logout."""

import pytest
from nio import (
    LoginError,
    LoginResponse,
    LogoutResponse,
    RegisterResponse,
    WhoamiError,
    WhoamiResponse,
)
from nio.responses import RegisterErrorResponse

from nio_session import expect, new_client, password, register


@pytest.mark.needs("POST /register (m.login.dummy)", "GET /account/whoami")
async def test_user_registers_with_dummy_auth_when_registration_is_open(hearth):
    client = new_client(hearth)
    try:
        response = expect(await client.register("alice", password(), device_name="nio"), RegisterResponse,
                          "register")
        assert response.user_id == hearth.user_id("alice")
        assert response.access_token and response.device_id
        whoami = expect(await client.whoami(), WhoamiResponse, "whoami")
        assert whoami.user_id == hearth.user_id("alice")
        assert whoami.device_id == response.device_id
    finally:
        await client.close()


@pytest.mark.needs("hearth admin invite create --json",
                   "POST /register (m.login.registration_token, then m.login.dummy with the same session)",
                   "GET /account/whoami")
async def test_user_registers_with_invite_token_from_admin_cli(hearth_token_only):
    # nio's register_with_token makes three calls: one without auth (401 with a session), one with the token
    # stage, one with m.login.dummy in the same session that must end with the new account's access token.
    token = hearth_token_only.create_invite_token(uses=1)
    client = new_client(hearth_token_only)
    try:
        response = await client.register_with_token("carol", password(), token, device_name="nio")
        expect(response, RegisterResponse, "register with token")
        assert response.user_id == hearth_token_only.user_id("carol")
        whoami = expect(await client.whoami(), WhoamiResponse, "whoami")
        assert whoami.user_id == hearth_token_only.user_id("carol")
    finally:
        await client.close()


@pytest.mark.needs("POST /register (registration.token_required refuses m.login.dummy alone)")
async def test_registration_without_token_is_refused_when_a_token_is_required(hearth_token_only):
    client = new_client(hearth_token_only)
    try:
        response = await client.register("mallory", password())
        assert isinstance(response, RegisterErrorResponse), f"registered without a token: {response!r}"
        assert client.access_token == ""
    finally:
        await client.close()


@pytest.mark.needs("hearth admin invite create --json", "POST /register (m.login.registration_token)")
async def test_single_use_invite_token_is_refused_the_second_time(hearth_token_only):
    token = hearth_token_only.create_invite_token(uses=1)
    first, second = new_client(hearth_token_only), new_client(hearth_token_only)
    try:
        expect(await first.register_with_token("dave", password(), token), RegisterResponse, "first use")
        response = await second.register_with_token("erin", password(), token)
        assert isinstance(response, RegisterErrorResponse), f"token was accepted twice: {response!r}"
    finally:
        await first.close()
        await second.close()


@pytest.mark.needs("POST /register (m.login.dummy)", "POST /login (m.login.password)", "GET /account/whoami")
async def test_registered_user_logs_in_with_password_on_a_new_device(hearth):
    secret = password()
    registered = await register(hearth, "alice", secret)
    client = new_client(hearth, "alice")
    try:
        response = expect(await client.login(secret, device_name="second device"), LoginResponse, "login")
        assert response.user_id == hearth.user_id("alice")
        assert response.device_id != registered.device_id
        whoami = expect(await client.whoami(), WhoamiResponse, "whoami")
        assert whoami.device_id == response.device_id
    finally:
        await client.close()
        await registered.close()


@pytest.mark.needs("POST /register (m.login.dummy)", "POST /login (M_FORBIDDEN on a wrong password)")
async def test_login_with_wrong_password_is_refused_with_m_forbidden(hearth):
    registered = await register(hearth, "alice")
    client = new_client(hearth, "alice")
    try:
        response = await client.login("not the password")
        assert isinstance(response, LoginError), f"logged in with a wrong password: {response!r}"
        assert response.status_code == "M_FORBIDDEN"
    finally:
        await client.close()
        await registered.close()


@pytest.mark.needs("POST /register (m.login.dummy)", "POST /logout", "GET /account/whoami (M_UNKNOWN_TOKEN)")
async def test_logout_invalidates_the_access_token(hearth):
    client = await register(hearth, "alice")
    try:
        token = client.access_token
        expect(await client.logout(), LogoutResponse, "logout")
        client.access_token = token
        response = await client.whoami()
        assert isinstance(response, WhoamiError), f"token still works after logout: {response!r}"
        assert response.status_code == "M_UNKNOWN_TOKEN"
    finally:
        await client.close()
