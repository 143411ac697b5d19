"""Synapse as a loopback federation peer and as the benchmark baseline, started from the cached Synapse venv.

Owns one throw-away Synapse configured as ../shared/peers/synapse.md describes (e2e/lib/synapse-peer.yaml.in):
`server_name` is `127.0.0.1:<federation port>` served over TLS with a self-signed certificate for IP 127.0.0.1,
the client API is on a second, plain-HTTP port, and the database is SQLite in the data directory or a fresh
PostgreSQL database with C collation (created and dropped with psql). Builds on the e2e harness's SynapseServer
(ports, config template filling, bounded start, stop by PID, shared-secret registration), so pytest fixtures and
scripts/bench share one implementation:

    peer = SynapsePeer(workdir, database="postgres")
    peer.start()
    token = peer.register_and_login("alice", "secret")
    ... peer.base_url (client API), peer.federation_url, peer.server_name ...
    peer.close()
"""

from __future__ import annotations

import os
import secrets
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from hearth_harness import (
    COMMAND_TIMEOUT, DEFAULT_POSTGRES_URL, REPO_ROOT, HarnessError, HearthOptions, PostgresDatabase, SynapseServer,
    http_json,
)

PEER_TEMPLATE = REPO_ROOT / "e2e" / "lib" / "synapse-peer.yaml.in"
# Seconds Synapse may take to answer on both listeners after start (≈ 5 s on SQLite on an idle 2-core machine).
PEER_START_TIMEOUT = float(os.environ.get("HEARTH_SYNAPSE_START_TIMEOUT", "120"))


class SynapsePostgresDatabase(PostgresDatabase):
    """A fresh PostgreSQL database Synapse accepts: UTF8 with C collation and ctype (Synapse refuses others)."""

    def __init__(self) -> None:  # noqa: D107 - same life cycle as PostgresDatabase, different CREATE
        self.admin_url = os.environ.get("HEARTH_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL
        self.name = f"synapse_peer_{secrets.token_hex(6)}"
        parts = urllib.parse.urlsplit(self.admin_url)
        self.url = urllib.parse.urlunsplit(parts._replace(path=f"/{self.name}"))
        self._psql(f"CREATE DATABASE \"{self.name}\" ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")

    def synapse_yaml(self) -> str:
        """The `database:` section of Synapse's config for this database (psycopg2 connection arguments)."""
        parts = urllib.parse.urlsplit(self.admin_url)
        args = {"database": self.name, "host": parts.hostname or "127.0.0.1", "port": parts.port or 5432,
                "user": parts.username or "postgres", "cp_min": 5, "cp_max": 10}
        if parts.password:
            args["password"] = urllib.parse.unquote(parts.password)
        body = "\n".join(f"    {key}: {value!r}" if isinstance(value, str) else f"    {key}: {value}"
                         for key, value in args.items())
        return f"database:\n  name: psycopg2\n  args:\n{body}"

    def size_bytes(self) -> int:
        """`pg_database_size` of the database (heap, indexes, TOAST)."""
        result = subprocess.run(
            ["psql", self.admin_url, "-At", "-c", f"SELECT pg_database_size('{self.name}')"],
            check=True, capture_output=True, text=True, timeout=COMMAND_TIMEOUT,
        )
        return int(result.stdout.strip())


def make_self_signed_certificate(cert: Path, key: Path) -> None:
    """A P-256 certificate for IP:127.0.0.1, valid 30 days, made with openssl (Synapse's TLS federation listener)."""
    command = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
               "-keyout", str(key), "-out", str(cert), "-days", "30", "-subj", "/CN=127.0.0.1",
               "-addext", "subjectAltName=IP:127.0.0.1"]
    try:
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
    except FileNotFoundError as error:
        raise HarnessError("openssl is not installed (the Synapse peer needs a self-signed certificate)") from error
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        raise HarnessError(f"openssl could not make a certificate: {getattr(error, 'stderr', error)}") from error


class SynapsePeer(SynapseServer):
    """One Synapse process: TLS federation on the server-name port, plain client API, SQLite or PostgreSQL."""

    config_template = PEER_TEMPLATE

    def __init__(self, workdir: Path, database: str = "sqlite") -> None:
        if database not in ("sqlite", "postgres"):
            raise HarnessError(f"database must be sqlite or postgres, not {database!r}")
        super().__init__(Path(""), workdir, HearthOptions(registration_open=True))
        self.database_kind = database
        self.peer_database: SynapsePostgresDatabase | None = None
        self.tls_cert = self.workdir / "tls.crt"
        self.tls_key = self.workdir / "tls.key"

    @property
    def server_name(self) -> str:
        """`127.0.0.1:<federation port>`: peers reach this server by its name alone, over TLS."""
        return f"127.0.0.1:{self.federation_port}"

    @property
    def federation_url(self) -> str:
        """Base URL of the TLS federation listener (self-signed certificate: do not verify)."""
        return f"https://127.0.0.1:{self.federation_port}"

    @property
    def pid(self) -> int:
        """The Synapse process ID (for /proc readings); raises when not running."""
        if self.process is None:
            raise HarnessError("Synapse is not running")
        return self.process.pid

    def close(self) -> None:
        """Stops Synapse and drops its PostgreSQL database, if it has one."""
        self.stop()
        if self.peer_database is not None:
            self.peer_database.drop()
            self.peer_database = None

    def login(self, localpart: str, password: str) -> str:
        """`POST /login` with m.login.password; returns the access token."""
        status, body = http_json("POST", f"{self.base_url}/_matrix/client/v3/login", {
            "type": "m.login.password", "identifier": {"type": "m.id.user", "user": localpart}, "password": password,
        }, timeout=60)
        if status != 200 or "access_token" not in body:
            raise HarnessError(f"login of {localpart} answered {status} {body}")
        return body["access_token"]

    def register_and_login(self, localpart: str, password: str) -> str:
        """Creates the user with shared-secret registration, then logs in; returns the login's access token."""
        self.register_with_shared_secret(localpart, password)
        return self.login(localpart, password)

    def database_size_bytes(self) -> int:
        """Bytes the database takes on disk: the SQLite files (with WAL), or pg_database_size."""
        if self.peer_database is not None:
            return self.peer_database.size_bytes()
        return sum(path.stat().st_size for path in self.data_dir.glob("homeserver.db*"))

    # Internals ------------------------------------------------------------------------------------------------

    def _prepare(self, fresh_ports: bool) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.tls_cert.exists():
            make_self_signed_certificate(self.tls_cert, self.tls_key)
        super()._prepare(fresh_ports)

    def _config_values(self) -> dict[str, str]:
        if self.database_kind == "postgres":
            if self.peer_database is None:
                self.peer_database = SynapsePostgresDatabase()
            database = self.peer_database.synapse_yaml()
        else:
            database = f"database:\n  name: sqlite3\n  args:\n    database: \"{self.data_dir / 'homeserver.db'}\""
        return {
            "SERVER_NAME": self.server_name,
            "DATA_DIR": str(self.data_dir),
            "CLIENT_PORT": str(self.client_port),
            "FEDERATION_PORT": str(self.federation_port),
            "TLS_CERT": str(self.tls_cert),
            "TLS_KEY": str(self.tls_key),
            "DATABASE": database,
            "SHARED_SECRET": self.shared_secret,
            "CLIENT_BASE_URL": self.base_url,
        }

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + PEER_START_TIMEOUT
        client = f"{self.base_url}/_matrix/client/versions"
        federation = f"{self.federation_url}/_matrix/federation/v1/version"
        unverified = ssl.create_default_context()
        unverified.check_hostname = False
        unverified.verify_mode = ssl.CERT_NONE
        pending = [client, federation]
        while pending and time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                code = None if self.process is None else self.process.returncode
                raise HarnessError(f"Synapse exited with {code} during start-up; log:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(pending[0], timeout=2, context=unverified) as response:
                    if response.status == 200:
                        pending.pop(0)
                        continue
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.1)
        if pending:
            raise HarnessError(f"{pending[0]} did not answer 200 within {PEER_START_TIMEOUT}s; log:\n{self.log_tail()}")
