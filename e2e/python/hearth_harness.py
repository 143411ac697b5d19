"""Starts, stops and restarts a real `hearth` process for the end-to-end suites.

Owns the life cycle of one throw-away server: free loopback ports, a config written from the shared template
(e2e/lib/hearth.toml.in), a fresh data directory and, with HEARTH_E2E_DATABASE=postgres, a fresh PostgreSQL
database. Every wait is bounded; the process is only ever signalled by its own PID. Knows nothing of pytest or of
any client library, so scripts can use it too:

    server = HearthServer(binary, workdir, HearthOptions(registration_open=True))
    server.start()
    ... server.base_url ...
    server.close()
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG_TEMPLATE = REPO_ROOT / "e2e" / "lib" / "hearth.toml.in"
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"

# Bounds, in seconds. Generous for a debug build on a busy 2-core machine, finite so a hung server fails a test.
START_TIMEOUT = float(os.environ.get("HEARTH_E2E_START_TIMEOUT", "60"))
STOP_TIMEOUT = float(os.environ.get("HEARTH_E2E_STOP_TIMEOUT", "15"))
COMMAND_TIMEOUT = 60.0
HTTP_TIMEOUT = 10.0


class HarnessError(RuntimeError):
    """The server could not be started, stopped or administered; the message says why (with its log's tail)."""


@dataclasses.dataclass(frozen=True)
class HearthOptions:
    """What a test needs from the server's configuration."""

    # m.login.dummy registration for anyone.
    registration_open: bool = True
    # m.login.registration_token required (tokens from `hearth admin invite create`).
    token_required: bool = False
    # Federation peer mode: server_name is 127.0.0.1:<federation port>, so other servers (Synapse, another Hearth)
    # reach the TLS federation listener by the name alone. Federation itself is always on (self-signed
    # certificates accepted, loopback allowed: e2e/lib/hearth.toml.in).
    federation: bool = False


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the caller retries if another process takes it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_json(method: str, url: str, body: dict | None = None, timeout: float = HTTP_TIMEOUT) -> tuple[int, dict]:
    """One HTTP request with a JSON body; returns the status and the decoded JSON answer (errors included)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw or b"{}")
        except json.JSONDecodeError:
            return error.code, {"raw": raw.decode(errors="replace")}


class PostgresDatabase:
    """A fresh database on the server named by HEARTH_TEST_POSTGRES_URL, created with psql and dropped on close."""

    def __init__(self) -> None:
        self.admin_url = os.environ.get("HEARTH_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL
        self.name = f"hearth_e2e_{secrets.token_hex(6)}"
        parts = urllib.parse.urlsplit(self.admin_url)
        self.url = urllib.parse.urlunsplit(parts._replace(path=f"/{self.name}"))
        self._psql(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        """Drops the database (the server must be stopped first)."""
        self._psql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def _psql(self, sql: str) -> None:
        try:
            subprocess.run(
                ["psql", self.admin_url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
                check=True, capture_output=True, text=True, timeout=COMMAND_TIMEOUT,
            )
        except FileNotFoundError as error:
            raise HarnessError("psql is not installed (HEARTH_E2E_DATABASE=postgres needs it)") from error
        except subprocess.CalledProcessError as error:
            raise HarnessError(f"psql {sql!r} on {self.admin_url} failed: {error.stderr.strip()}") from error
        except subprocess.TimeoutExpired as error:
            raise HarnessError(f"psql {sql!r} on {self.admin_url} took over {COMMAND_TIMEOUT}s") from error


class HearthServer:
    """One `hearth serve` process on loopback with its own config, data directory and (optionally) database.

    `start()` picks ports once; `restart()` keeps them, the data directory and the database, so the server comes
    back as the same server (the same server_name, users, rooms and sync tokens).
    """

    def __init__(self, binary: Path, workdir: Path, options: HearthOptions = HearthOptions()) -> None:
        self.binary = Path(binary)
        self.workdir = Path(workdir)
        self.options = options
        self.data_dir = self.workdir / "data"
        self.config_path = self.workdir / "hearth.toml"
        self.log_path = self.workdir / "hearth.log"
        self.shared_secret = secrets.token_hex(16)
        self.client_port = 0
        self.federation_port = 0
        self.database: PostgresDatabase | None = None
        self.process: subprocess.Popen | None = None

    @property
    def server_name(self) -> str:
        """`127.0.0.1:<client port>`: an IP literal with a port, so user IDs name a reachable server; with
        `HearthOptions(federation=True)`, `127.0.0.1:<federation port>`, the name other servers connect to."""
        port = self.federation_port if self.options.federation else self.client_port
        return f"127.0.0.1:{port}"

    @property
    def federation_url(self) -> str:
        """Base URL of the TLS federation listener (self-signed certificate: do not verify)."""
        return f"https://127.0.0.1:{self.federation_port}"

    @property
    def base_url(self) -> str:
        """The client-server API's base URL (what a client is given as its homeserver)."""
        return f"http://127.0.0.1:{self.client_port}"

    def user_id(self, localpart: str) -> str:
        """The full Matrix user ID of `localpart` on this server."""
        return f"@{localpart}:{self.server_name}"

    def start(self) -> None:
        """Writes the config (first start only) and starts the server; returns once /versions answers 200."""
        first_start = self.client_port == 0
        attempts = 3 if first_start else 1
        for attempt in range(attempts):
            if first_start:
                self._prepare(fresh_ports=True)
            self._spawn()
            try:
                self._wait_until_ready()
                return
            except HarnessError:
                self.stop()
                # Another process may have taken a port between our probe and the server's bind: new ports, retry.
                if attempt + 1 == attempts or not self._log_mentions_address_in_use():
                    raise

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT; waits for the process to be gone. A no-op when not running."""
        process = self.process
        if process is None:
            return
        self.process = None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT)
        self._log_file_close()

    def restart(self) -> None:
        """Stops and starts again with the same ports, config, data directory and database."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stops the server and drops its PostgreSQL database, if it has one."""
        self.stop()
        if self.database is not None:
            self.database.drop()
            self.database = None

    def is_running(self) -> bool:
        """Whether the process is alive."""
        return self.process is not None and self.process.poll() is None

    # Administration -------------------------------------------------------------------------------------------

    def admin(self, *args: str) -> str:
        """Runs `hearth --config <ours> admin <args>` against this server's database and returns its stdout."""
        command = [str(self.binary), "--config", str(self.config_path), "admin", *args]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
        except subprocess.TimeoutExpired as error:
            raise HarnessError(f"{' '.join(command)} took over {COMMAND_TIMEOUT}s") from error
        if result.returncode != 0:
            raise HarnessError(f"{' '.join(command)} exited {result.returncode}: {result.stderr.strip()}")
        return result.stdout

    def create_invite_token(self, uses: int = 1) -> str:
        """A registration token from `hearth admin invite create --uses N --json` (its `token` field)."""
        output = self.admin("invite", "create", "--uses", str(uses), "--json")
        try:
            return json.loads(output)["token"]
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise HarnessError(f"`hearth admin invite create --json` printed no token: {output!r}") from error

    def register_with_shared_secret(self, localpart: str, password: str, admin: bool = False) -> dict:
        """Creates a user through the Synapse-compatible `/_synapse/admin/v1/register` (nonce + HMAC-SHA1)."""
        url = f"{self.base_url}/_synapse/admin/v1/register"
        status, body = http_json("GET", url)
        if status != 200 or "nonce" not in body:
            raise HarnessError(f"GET {url} answered {status} {body}")
        nonce = body["nonce"]
        mac = hmac.new(self.shared_secret.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join([nonce.encode(), localpart.encode(), password.encode(),
                                 b"admin" if admin else b"notadmin"]))
        status, body = http_json("POST", url, {
            "nonce": nonce, "username": localpart, "password": password, "admin": admin, "mac": mac.hexdigest(),
        })
        if status != 200:
            raise HarnessError(f"POST {url} answered {status} {body}")
        return body

    def log_tail(self, lines: int = 60) -> str:
        """The last lines of the server's log (stdout and stderr), for failure messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    # Internals ------------------------------------------------------------------------------------------------

    def _prepare(self, fresh_ports: bool) -> None:
        if fresh_ports:
            self.client_port = free_loopback_port()
            self.federation_port = free_loopback_port()
            while self.federation_port == self.client_port:
                self.federation_port = free_loopback_port()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.config_template.read_text()
        for name, value in self._config_values().items():
            config = config.replace(f"@{name}@", value)
        self.config_path.write_text(config)

    config_template = CONFIG_TEMPLATE

    def _config_values(self) -> dict[str, str]:
        database_url = f"sqlite://{self.data_dir / 'hearth.db'}"
        if os.environ.get("HEARTH_E2E_DATABASE", "sqlite") == "postgres":
            if self.database is None:
                self.database = PostgresDatabase()
            database_url = self.database.url
        return {
            "SERVER_NAME": self.server_name,
            "DATA_DIR": str(self.data_dir),
            "CLIENT_PORT": str(self.client_port),
            "CLIENT_ADDR": f"127.0.0.1:{self.client_port}",
            "FEDERATION_ADDR": f"127.0.0.1:{self.federation_port}",
            "DATABASE_URL": database_url,
            "REGISTRATION_OPEN": _toml_bool(self.options.registration_open),
            "TOKEN_REQUIRED": _toml_bool(self.options.token_required),
            "SHARED_SECRET": self.shared_secret,
            "CLIENT_BASE_URL": self.base_url,
            "LOG_LEVEL": os.environ.get("HEARTH_E2E_LOG_LEVEL", "info"),
        }

    def _command(self) -> list[str]:
        if not self.binary.is_file():
            raise HarnessError(f"no hearth binary at {self.binary} (set HEARTH_BIN or run scripts/e2e/python.sh)")
        return [str(self.binary), "--config", str(self.config_path), "serve"]

    def _spawn(self) -> None:
        command = self._command()
        self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._log_file.write(f"--- hearth started by the e2e harness at {time.ctime()}\n".encode())
        self._log_file.flush()
        # The server reads only its config file: no HEARTH_* overrides from the caller's environment.
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEARTH_")}
        env["NO_COLOR"] = "1"
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=subprocess.STDOUT, env=env,
            cwd=self.workdir, start_new_session=True,
        )

    def _wait_until_ready(self) -> None:
        url = f"{self.base_url}/_matrix/client/versions"
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                code = None if self.process is None else self.process.returncode
                raise HarnessError(f"hearth exited with {code} during start-up; log:\n{self.log_tail()}")
            try:
                status, _ = http_json("GET", url, timeout=2)
                if status == 200:
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError, socket.timeout):
                pass
            time.sleep(0.1)
        raise HarnessError(f"{url} did not answer 200 within {START_TIMEOUT}s; log:\n{self.log_tail()}")

    def _log_mentions_address_in_use(self) -> bool:
        return "address already in use" in self.log_tail(20).lower()

    def _log_file_close(self) -> None:
        log_file = getattr(self, "_log_file", None)
        if log_file is not None:
            log_file.close()
            self._log_file = None


def _toml_bool(value: bool) -> str:
    return "true" if value else "false"


class SynapseServer(HearthServer):
    """Synapse in Hearth's place (HEARTH_E2E_SERVER=synapse), to check a scenario against the reference server.

    Same interface and life cycle; `hearth admin invite create` becomes Synapse's admin API for registration tokens.
    SQLite only. Synapse comes from $HEARTH_CACHE/synapse-venv (scripts/e2e/lib/install.bash installs it).
    """

    config_template = REPO_ROOT / "e2e" / "lib" / "synapse.yaml.in"

    def __init__(self, binary: Path, workdir: Path, options: HearthOptions = HearthOptions()) -> None:
        cache = Path(os.environ.get("HEARTH_CACHE", Path.home() / ".cache" / "hearth"))
        python = os.environ.get("HEARTH_E2E_SYNAPSE_PYTHON", str(cache / "synapse-venv" / "bin" / "python"))
        super().__init__(Path(python), workdir, options)
        self.config_path = self.workdir / "homeserver.yaml"
        self._admin_token: str | None = None

    def _config_values(self) -> dict[str, str]:
        values = super()._config_values()
        # Synapse needs registration enabled for token registration too; the token requirement is separate.
        values["REGISTRATION_OPEN"] = _toml_bool(self.options.registration_open or self.options.token_required)
        return values

    def _prepare(self, fresh_ports: bool) -> None:
        super()._prepare(fresh_ports)
        try:
            subprocess.run([str(self.binary), "-m", "synapse.app.homeserver", "-c", str(self.config_path),
                            "--generate-keys"], check=True, capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, FileNotFoundError) as error:
            raise HarnessError(f"synapse --generate-keys failed: {getattr(error, 'stderr', error)}") from error

    def _command(self) -> list[str]:
        return [str(self.binary), "-m", "synapse.app.homeserver", "-c", str(self.config_path)]

    def admin(self, *args: str) -> str:
        raise HarnessError("the hearth admin CLI does not exist for Synapse")

    def create_invite_token(self, uses: int = 1) -> str:
        if self._admin_token is None:
            self._admin_token = self.register_with_shared_secret("e2e-admin", secrets.token_hex(8), True)["access_token"]
        url = f"{self.base_url}/_synapse/admin/v1/registration_tokens/new"
        request = urllib.request.Request(url, data=json.dumps({"uses_allowed": uses}).encode(), method="POST",
                                         headers={"Authorization": f"Bearer {self._admin_token}"})
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
            return json.loads(response.read())["token"]


def server_class() -> type[HearthServer]:
    """The server under test: Hearth, or Synapse when HEARTH_E2E_SERVER=synapse."""
    kind = os.environ.get("HEARTH_E2E_SERVER", "hearth")
    if kind not in ("hearth", "synapse"):
        raise HarnessError(f"HEARTH_E2E_SERVER={kind} is neither hearth nor synapse")
    return SynapseServer if kind == "synapse" else HearthServer
