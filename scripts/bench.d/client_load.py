"""Client-server load generator of scripts/bench: the same workloads against Hearth and Synapse, side by side.

Owns the workloads of issue 7 (send throughput, /sync fan-out, initial and incremental /sync, /messages paging,
registration + login, memory and start-up, database size), the /proc readings (server CPU per message, RSS,
VmHWM, PostgreSQL backend CPU) and the results table written to docs/performance.md. Servers come from the e2e
harness (e2e/python/hearth_harness.py, e2e/python/synapse_peer.py): loopback only, stopped by PID.

Only the standard client-server API is used. A workload Hearth cannot run yet (404/405/M_UNRECOGNIZED) is reported
as "n/a (endpoint missing: …)", never as a failure of the whole run. Every loop is bounded in count and in time.

The generator is asyncio + aiohttp on one core; it measures its own CPU per sent message so the table shows when it,
and not the server, is the limit.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime
import json
import os
import secrets
import statistics
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Awaitable, Callable

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "e2e" / "python"))

import aiohttp  # noqa: E402

from hearth_harness import HarnessError, HearthOptions, HearthServer  # noqa: E402
from synapse_peer import SynapsePeer  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
PASSWORD = "bench-password-0123456789"
# Upper bound, in seconds, for any one HTTP request (long-polls ask for at most LONG_POLL_MS).
REQUEST_TIMEOUT = 120.0
LONG_POLL_MS = 10_000
# Sync filter with a timeline long enough that no message is skipped by a "limited" timeline.
# The Rust send-load generator (scripts/bench passes --send-load); None = the Python loop below.
SEND_LOAD: Path | None = None
WIDE_TIMELINE = json.dumps({"room": {"timeline": {"limit": 1000}}}, separators=(",", ":"))


@dataclasses.dataclass(frozen=True)
class Sizes:
    """Counts of every workload: the issue's figures, or the smoke-test ones of --quick."""

    send_messages: int = 5000
    send_clients: int = 8
    fanout_rooms: int = 20
    fanout_members: int = 20
    fanout_messages: int = 400
    sync_rooms: int = 500
    sync_messages_per_room: int = 50
    pages: int = 20
    page_size: int = 100
    reg_users: int = 200
    workload_timeout: float = 1800.0


QUICK = Sizes(send_messages=400, fanout_rooms=5, fanout_members=5, fanout_messages=50, sync_rooms=20,
              sync_messages_per_room=10, pages=3, reg_users=16, workload_timeout=300.0)


class EndpointMissing(Exception):
    """The server does not implement an endpoint a workload needs (404, 405 or M_UNRECOGNIZED)."""


class BenchError(Exception):
    """A request failed in a way that is not a missing endpoint; the message has the status and body."""


# /proc readings -------------------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds (fields 14 and 15 of /proc/PID/stat)."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def status_kib(pid: int, key: str) -> int:
    """A `kB` field of /proc/PID/status (VmRSS, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise BenchError(f"/proc/{pid}/status has no {key}")


def postgres_backends(database: str) -> dict[int, float]:
    """CPU seconds of every PostgreSQL backend serving `database` (process titles `postgres: user db …`)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if title.startswith("postgres: ") and f" {database} " in title:
                found[int(entry.name)] = cpu_seconds(int(entry.name))
        except (OSError, ValueError):
            continue
    return found


def postgres_cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU the backends used between two readings (new backends count in full; ended ones are lost)."""
    return sum(value - before.get(pid, 0.0) for pid, value in after.items())


# HTTP client ----------------------------------------------------------------------------------------------------


class Client:
    """One Matrix client: an aiohttp session of its own and, once logged in, an access token."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url + "/_matrix/client/v3"
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
                                             connector=aiohttp.TCPConnector(limit=0))
        self.token = ""
        self.user_id = ""

    async def close(self) -> None:
        """Closes the session's connections."""
        await self.session.close()

    async def raw(self, method: str, path: str, body: Any = None, params: dict | None = None) -> tuple[int, dict]:
        """One request; returns status and decoded JSON (an empty dict when the body is not JSON)."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        data = None if body is None else json.dumps(body)
        if data is not None:
            headers["Content-Type"] = "application/json"
        async with self.session.request(method, self.base + path, data=data, params=params,
                                        headers=headers) as response:
            raw = await response.read()
            try:
                decoded = json.loads(raw) if raw else {}
            except ValueError:
                decoded = {}
            return response.status, decoded if isinstance(decoded, dict) else {}

    async def call(self, name: str, method: str, path: str, body: Any = None, params: dict | None = None) -> dict:
        """A request that must succeed; `name` is the endpoint reported when the server lacks it."""
        status, answer = await self.raw(method, path, body, params)
        if status == 200:
            return answer
        if status in (404, 405, 501) or answer.get("errcode") == "M_UNRECOGNIZED":
            raise EndpointMissing(name)
        raise BenchError(f"{name} answered {status} {json.dumps(answer)[:300]}")

    async def register(self, localpart: str) -> None:
        """Open registration with m.login.dummy (answering the user-interactive auth round if asked)."""
        body: dict = {"username": localpart, "password": PASSWORD, "auth": {"type": "m.login.dummy"}}
        status, answer = await self.raw("POST", "/register", body)
        if status == 401 and "session" in answer:
            body["auth"]["session"] = answer["session"]
            status, answer = await self.raw("POST", "/register", body)
        if status in (404, 405) or answer.get("errcode") == "M_UNRECOGNIZED":
            raise EndpointMissing("POST /register")
        if status != 200 or "access_token" not in answer:
            raise BenchError(f"POST /register answered {status} {json.dumps(answer)[:300]}")
        self.token, self.user_id = answer["access_token"], answer["user_id"]

    async def login(self, localpart: str) -> None:
        """m.login.password; replaces the access token."""
        answer = await self.call("POST /login", "POST", "/login", {
            "type": "m.login.password", "identifier": {"type": "m.id.user", "user": localpart},
            "password": PASSWORD})
        self.token = answer["access_token"]

    async def create_room(self) -> str:
        """A public room (anyone may join by ID)."""
        answer = await self.call("POST /createRoom", "POST", "/createRoom", {"preset": "public_chat"})
        return answer["room_id"]

    async def join(self, room_id: str) -> None:
        """POST /join/{roomIdOrAlias}."""
        await self.call("POST /join/{roomIdOrAlias}", "POST", f"/join/{room_id}", {})

    async def send(self, room_id: str, body: str) -> str:
        """An m.room.message with a fresh transaction ID; returns the event ID."""
        txn = secrets.token_hex(8)
        answer = await self.call("PUT /rooms/{roomId}/send/{eventType}/{txnId}", "PUT",
                                 f"/rooms/{room_id}/send/m.room.message/{txn}", {"msgtype": "m.text", "body": body})
        return answer["event_id"]

    async def sync(self, since: str | None, timeout_ms: int, filter_json: str | None = None) -> dict:
        """GET /sync; returns the decoded response."""
        params = {"timeout": str(timeout_ms)}
        if since:
            params["since"] = since
        if filter_json:
            params["filter"] = filter_json
        return await self.call("GET /sync", "GET", "/sync", params=params)


async def gather_bounded(limit: int, jobs: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
    """Runs the jobs with at most `limit` at once; the first exception propagates."""
    semaphore = asyncio.Semaphore(limit)

    async def one(job):
        async with semaphore:
            return await job()

    return await asyncio.gather(*(one(job) for job in jobs))


async def new_users(base_url: str, prefix: str, count: int) -> list[Client]:
    """`count` registered, logged-in clients (registered four at a time)."""
    clients = [Client(base_url) for _ in range(count)]
    await gather_bounded(4, [lambda c=c, i=i: c.register(f"{prefix}{i}") for i, c in enumerate(clients)])
    return clients


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def timeline_bodies(response: dict) -> list[str]:
    """Bodies of the bench's messages in a /sync response's joined-room timelines."""
    found = []
    for room in response.get("rooms", {}).get("join", {}).values():
        for event in room.get("timeline", {}).get("events", []):
            body = event.get("content", {}).get("body")
            if isinstance(body, str) and body.startswith("bench "):
                found.append(body)
    return found


async def sync_observer(client: Client, since: str, arrivals: dict[str, list[float]], stop: asyncio.Event) -> None:
    """Long-polls /sync until `stop`, recording the arrival time of every bench message body."""
    while not stop.is_set():
        response = await client.sync(since, LONG_POLL_MS, WIDE_TIMELINE)
        now = time.monotonic()
        since = response.get("next_batch", since)
        for body in timeline_bodies(response):
            arrivals.setdefault(body, []).append(now)


async def wait_for(condition: Callable[[], bool], bound: float) -> None:
    """Polls `condition` every 10 ms for at most `bound` seconds."""
    deadline = time.monotonic() + bound
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


async def close_all(clients: list[Client]) -> None:
    """Closes every client's session."""
    await asyncio.gather(*(client.close() for client in clients))


# Servers --------------------------------------------------------------------------------------------------------


class Target:
    """One server under measurement: Hearth or Synapse on one backend, with its /proc and database readings."""

    def __init__(self, kind: str, backend: str, workdir: Path, hearth_binary: Path) -> None:
        self.kind, self.backend = kind, backend
        if kind == "hearth":
            os.environ["HEARTH_E2E_DATABASE"] = backend
            self.server: HearthServer = HearthServer(hearth_binary, workdir, HearthOptions(registration_open=True))
        else:
            self.server = SynapsePeer(workdir, backend)

    @property
    def pid(self) -> int:
        """The server's process ID."""
        if self.server.process is None:
            raise HarnessError(f"{self.kind} is not running")
        return self.server.process.pid

    def database_name(self) -> str | None:
        """The PostgreSQL database's name (None on SQLite)."""
        database = getattr(self.server, "peer_database", None) or getattr(self.server, "database", None)
        return None if database is None else database.name

    def database_bytes(self) -> int:
        """The database's size on disk: SQLite files with their WAL, or pg_database_size."""
        name = self.database_name()
        if name is None:
            pattern = "homeserver.db*" if self.kind == "synapse" else "*.db*"
            return sum(path.stat().st_size for path in self.server.data_dir.rglob(pattern) if path.is_file())
        admin_url = os.environ.get("HEARTH_TEST_POSTGRES_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
        result = subprocess.run(["psql", admin_url, "-At", "-c", f"SELECT pg_database_size('{name}')"],
                                check=True, capture_output=True, text=True, timeout=60)
        return int(result.stdout.strip())

    def restart_time_ms(self, bound: float = 120.0) -> float:
        """Stops the server, starts it on its existing database and times the first 200 of /versions (2 ms polls)."""
        self.server.stop()
        url = f"{self.server.base_url}/_matrix/client/versions"
        started = time.monotonic()
        self.server._spawn()  # noqa: SLF001 - the harness's own spawn, timed here with finer polling
        while time.monotonic() - started < bound:
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return (time.monotonic() - started) * 1000
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.002)
        raise BenchError(f"{self.kind} did not answer /versions within {bound}s after a restart")


# Workloads ------------------------------------------------------------------------------------------------------

Results = dict[str, Any]


async def calibrate(target: Target, sizes: Sizes, results: Results) -> None:
    """The generator's own ceiling: GET /versions (no database, no auth) from the send workload's client count."""
    clients = [Client(target.server.base_url) for _ in range(sizes.send_clients)]
    per_client = sizes.send_messages // sizes.send_clients

    async def one(client: Client) -> None:
        for _ in range(per_client):
            async with client.session.get(target.server.base_url + "/_matrix/client/versions") as response:
                await response.read()

    try:
        own_before, started = time.process_time(), time.monotonic()
        await asyncio.gather(*(one(c) for c in clients))
        elapsed, own = time.monotonic() - started, time.process_time() - own_before
        total = per_client * len(clients)
        results["versions_rate"] = total / elapsed
        results["versions_client_cpu"] = own * 1000 / total
    finally:
        await close_all(clients)


async def send_throughput(target: Target, sizes: Sizes, results: Results) -> str:
    """Workload 1: messages into one room from concurrent clients; returns the room ID for workload 4."""
    clients = await new_users(target.server.base_url, "sender", sizes.send_clients)
    try:
        room = await clients[0].create_room()
        await asyncio.gather(*(client.join(room) for client in clients[1:]))
        observer_since = (await clients[0].sync(None, 0, WIDE_TIMELINE)).get("next_batch", "")
        if SEND_LOAD:
            await send_with_rust_generator(target, sizes, results, room, clients, observer_since)
            return room
        arrivals: dict[str, list[float]] = {}
        stop = asyncio.Event()
        observer = asyncio.create_task(sync_observer(clients[0], observer_since, arrivals, stop))
        per_client = sizes.send_messages // sizes.send_clients
        sent_at: dict[str, float] = {}
        latencies: list[float] = []

        async def sender(index: int, client: Client) -> None:
            for n in range(per_client):
                body = f"bench {index}-{n}"
                started = time.monotonic()
                sent_at[body] = started
                await client.send(room, body)
                latencies.append(time.monotonic() - started)

        name = target.database_name()
        pg_before = postgres_backends(name) if name else {}
        cpu_before, own_before = cpu_seconds(target.pid), time.process_time()
        started = time.monotonic()
        await asyncio.gather(*(sender(i, c) for i, c in enumerate(clients)))
        elapsed = time.monotonic() - started
        cpu_after, own_after = cpu_seconds(target.pid), time.process_time()
        pg_after = postgres_backends(name) if name else {}
        total = per_client * sizes.send_clients
        await wait_for(lambda: len(arrivals) >= total, 60)
        stop.set()
        observer.cancel()
        await asyncio.gather(observer, return_exceptions=True)
        results["send_rate"] = total / elapsed
        results["send_p50"] = percentile(latencies, 0.5) * 1000
        results["send_p99"] = percentile(latencies, 0.99) * 1000
        results["send_cpu"] = (cpu_after - cpu_before) * 1000 / total
        if name:
            results["send_pg_cpu"] = postgres_cpu_delta(pg_before, pg_after) * 1000 / total
        results["client_cpu"] = (own_after - own_before) * 1000 / total
        delivery = [min(times) - sent_at[body] for body, times in arrivals.items() if body in sent_at]
        if delivery:
            results["send_sync_p50"] = percentile(delivery, 0.5) * 1000
            results["send_sync_p99"] = percentile(delivery, 0.99) * 1000
        results["send_delivered"] = f"{len(delivery)}/{total}"
        results["rss_peak_send"] = status_kib(target.pid, "VmHWM") / 1024
        return room
    finally:
        await close_all(clients)


async def send_with_rust_generator(target: Target, sizes: Sizes, results: Results, room: str, clients: list[Client],
                                   observer_since: str) -> None:
    """Workload 1's loop run by homeserver/examples/send_load.rs (one thread, ≈10× less CPU per message than
    this Python generator); the same figures as the Python loop, from its JSON report."""
    command = [str(SEND_LOAD), "--base-url", target.server.base_url, "--room", room,
               "--tokens", ",".join(c.token for c in clients), "--observer-token", clients[0].token,
               "--observer-since", observer_since, "--messages", str(sizes.send_messages),
               "--timeout-secs", str(int(sizes.workload_timeout))]
    name = target.database_name()
    pg_before = postgres_backends(name) if name else {}
    cpu_before = cpu_seconds(target.pid)
    process = await asyncio.create_subprocess_exec(*command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await process.communicate()
    cpu_after = cpu_seconds(target.pid)
    pg_after = postgres_backends(name) if name else {}
    if process.returncode != 0:
        raise BenchError(f"send_load exited {process.returncode}: {err.decode(errors='replace')[:300]}")
    report = json.loads(out)
    total = report["sent"]
    latencies = [v / 1000 for v in report["latencies_ms"]]
    delivery = [v / 1000 for v in report["delivery_ms"]]
    results["send_rate"] = total / report["elapsed_s"]
    results["send_p50"] = percentile(latencies, 0.5) * 1000
    results["send_p99"] = percentile(latencies, 0.99) * 1000
    # The server's CPU over the generator's whole run (setup is a few requests), per message.
    results["send_cpu"] = (cpu_after - cpu_before) * 1000 / total
    if name:
        results["send_pg_cpu"] = postgres_cpu_delta(pg_before, pg_after) * 1000 / total
    results["client_cpu"] = report["cpu_s"] * 1000 / total
    if delivery:
        results["send_sync_p50"] = percentile(delivery, 0.5) * 1000
        results["send_sync_p99"] = percentile(delivery, 0.99) * 1000
    results["send_delivered"] = f"{len(delivery)}/{total}"
    results["rss_peak_send"] = status_kib(target.pid, "VmHWM") / 1024


async def fan_out(target: Target, sizes: Sizes, results: Results) -> None:
    """Workload 2: rooms × members all long-polling /sync; messages round-robin; send→sync delivery latency."""
    members = await new_users(target.server.base_url, "fan", sizes.fanout_members)
    try:
        rooms = [await members[i % len(members)].create_room() for i in range(sizes.fanout_rooms)]
        await gather_bounded(4, [lambda m=m, r=r: m.join(r) for r in rooms for m in members
                                 if m is not members[rooms.index(r) % len(members)]])
        sinces = await asyncio.gather(*(m.sync(None, 0, WIDE_TIMELINE) for m in members))
        arrivals: dict[str, list[float]] = {}
        stop = asyncio.Event()
        observers = [asyncio.create_task(sync_observer(m, s.get("next_batch", ""), arrivals, stop))
                     for m, s in zip(members, sinces)]
        await asyncio.sleep(0.5)
        sent_at: dict[str, float] = {}
        for n in range(sizes.fanout_messages):
            index = n % len(rooms)
            body = f"bench fan-{n}"
            sent_at[body] = time.monotonic()
            await members[index % len(members)].send(rooms[index], body)
        expected = sizes.fanout_messages * len(members)
        await wait_for(lambda: sum(len(v) for v in arrivals.values()) >= expected, 60)
        stop.set()
        for task in observers:
            task.cancel()
        await asyncio.gather(*observers, return_exceptions=True)
        delivery = [t - sent_at[body] for body, times in arrivals.items() if body in sent_at for t in times]
        if delivery:
            results["fanout_p50"] = percentile(delivery, 0.5) * 1000
            results["fanout_p99"] = percentile(delivery, 0.99) * 1000
        results["fanout_delivered"] = f"{len(delivery)}/{expected}"
    finally:
        await close_all(members)


async def sync_many_rooms(target: Target, sizes: Sizes, results: Results) -> None:
    """Workload 3: initial /sync of a user in many rooms with messages, then incremental /sync with nothing new."""
    [user] = await new_users(target.server.base_url, "reader", 1)
    try:
        async def fill() -> None:
            room = await user.create_room()
            for n in range(sizes.sync_messages_per_room):
                await user.send(room, f"filler {n}")

        await gather_bounded(8, [fill for _ in range(sizes.sync_rooms)])
        initial, size = [], 0
        for attempt in range(3):
            # A different timeout each time: Synapse answers an identical /sync from its response cache.
            started = time.monotonic()
            response = await user.sync(None, attempt * 1000)
            initial.append((time.monotonic() - started) * 1000)
            size = len(json.dumps(response))
        results["initial_sync"] = statistics.median(initial)
        results["initial_sync_kib"] = size / 1024
        since = response.get("next_batch", "")
        incremental = []
        for attempt in range(5):
            # timeout=0 with a different (equivalent) filter each time, for the same cache reason.
            varied = json.dumps({"room": {"timeline": {"limit": 11 + attempt}}}, separators=(",", ":"))
            started = time.monotonic()
            await user.sync(since, 0, varied)
            incremental.append((time.monotonic() - started) * 1000)
        results["incremental_sync"] = statistics.median(incremental)
    finally:
        await user.close()


async def paginate(target: Target, sizes: Sizes, results: Results, room: str, reader: Client) -> None:
    """Workload 4: /messages backwards from the end of the room, pages of page_size."""
    pages, token, events = [], None, 0
    for _ in range(sizes.pages):
        params = {"dir": "b", "limit": str(sizes.page_size)}
        if token:
            params["from"] = token
        started = time.monotonic()
        answer = await reader.call("GET /rooms/{roomId}/messages", "GET", f"/rooms/{room}/messages", params=params)
        pages.append((time.monotonic() - started) * 1000)
        events += len(answer.get("chunk", []))
        token = answer.get("end")
        if not token:
            break
    results["messages_page"] = statistics.mean(pages)
    results["messages_page_p50"] = percentile(pages, 0.5)
    results["messages_events"] = events


async def register_login(target: Target, sizes: Sizes, results: Results) -> None:
    """Workload 5: registration then password login of reg_users users, eight at a time."""
    clients = [Client(target.server.base_url) for _ in range(sizes.reg_users)]
    try:
        async def one(i: int, client: Client) -> None:
            await client.register(f"newcomer{i}")
            await client.login(f"newcomer{i}")

        started = time.monotonic()
        await gather_bounded(8, [lambda i=i, c=c: one(i, c) for i, c in enumerate(clients)])
        results["reg_login_rate"] = sizes.reg_users / (time.monotonic() - started)
    finally:
        await close_all(clients)


async def guarded(results: Results, keys: list[str], bound: float, work: Awaitable[Any],
                  pid: int | None = None) -> Any:
    """Runs one workload; a missing endpoint, error or timeout becomes the value of its result keys.

    With `pid`, logs the server's VmHWM afterwards (which workload raised the peak).
    """
    try:
        answer = await asyncio.wait_for(work, bound)
        if pid is not None:
            log(f"  done; server VmHWM {status_kib(pid, 'VmHWM') / 1024:.1f} MiB")
        return answer
    except EndpointMissing as missing:
        reason = f"n/a (endpoint missing: {missing})"
    except asyncio.TimeoutError:
        reason = f"n/a (over the {bound:.0f} s bound)"
    except (BenchError, aiohttp.ClientError, OSError, KeyError) as error:
        reason = f"failed: {str(error)[:160]}"
    for key in keys:
        results.setdefault(key, reason)
    return None


async def run_target(target: Target, sizes: Sizes) -> Results:
    """All workloads against one server, in order; the server is stopped at the end."""
    results: Results = {"measured_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    log(f"{target.kind}/{target.backend}: starting")
    started = time.monotonic()
    target.server.start()
    results["first_start"] = (time.monotonic() - started) * 1000
    try:
        await asyncio.sleep(2)
        results["rss_idle"] = status_kib(target.pid, "VmRSS") / 1024
        bound = sizes.workload_timeout
        log(f"{target.kind}/{target.backend}: load generator ceiling (GET /versions)")
        await guarded(results, ["versions_rate"], bound, calibrate(target, sizes, results), target.pid)
        log(f"{target.kind}/{target.backend}: send throughput")
        room = await guarded(results, ["send_rate", "send_p50", "send_p99", "send_cpu", "send_sync_p50",
                                       "send_sync_p99", "rss_peak_send", "client_cpu"],
                             bound, send_throughput(target, sizes, results), target.pid)
        log(f"{target.kind}/{target.backend}: /messages")
        if room:
            reader = Client(target.server.base_url)
            try:
                await guarded(results, ["messages_page"], bound, reader_then_paginate(reader, target, sizes, results,
                                                                                      room), target.pid)
            finally:
                await reader.close()
        else:
            results["messages_page"] = results["send_rate"]
        log(f"{target.kind}/{target.backend}: fan-out")
        await guarded(results, ["fanout_p50", "fanout_p99"], bound, fan_out(target, sizes, results), target.pid)
        log(f"{target.kind}/{target.backend}: initial and incremental /sync")
        await guarded(results, ["initial_sync", "incremental_sync"], bound, sync_many_rooms(target, sizes, results), target.pid)
        log(f"{target.kind}/{target.backend}: registration + login")
        await guarded(results, ["reg_login_rate"], bound, register_login(target, sizes, results), target.pid)
        results["rss_peak"] = status_kib(target.pid, "VmHWM") / 1024
        results["db_size"] = target.database_bytes() / (1024 * 1024)
        results["startup"] = target.restart_time_ms()
    finally:
        target.server.close()
    return results


async def reader_then_paginate(reader: Client, target: Target, sizes: Sizes, results: Results, room: str) -> None:
    """A fresh user joins the send-throughput room and pages back through it."""
    await reader.register("pager")
    await reader.join(room)
    await paginate(target, sizes, results, room, reader)


# Report ---------------------------------------------------------------------------------------------------------

# (key, workload, label, unit, lower is better)
ROWS = [
    ("versions_rate", "0 ceiling", "GET /versions, same client count (generator's ceiling)", "req/s", False),
    ("versions_client_cpu", "0 ceiling", "load generator CPU per GET /versions", "ms", None),
    ("send_rate", "1 send", "throughput", "msgs/s", False),
    ("send_p50", "1 send", "send latency p50", "ms", True),
    ("send_p99", "1 send", "send latency p99", "ms", True),
    ("send_cpu", "1 send", "server CPU per message", "ms", True),
    ("send_pg_cpu", "1 send", "PostgreSQL backend CPU per message", "ms", True),
    ("send_sync_p50", "1 send", "send→/sync delivery p50", "ms", True),
    ("send_sync_p99", "1 send", "send→/sync delivery p99", "ms", True),
    ("send_delivered", "1 send", "messages seen by the /sync observer", "", None),
    ("client_cpu", "1 send", "load generator CPU per message", "ms", None),
    ("fanout_p50", "2 fan-out", "send→/sync delivery p50", "ms", True),
    ("fanout_p99", "2 fan-out", "send→/sync delivery p99", "ms", True),
    ("fanout_delivered", "2 fan-out", "deliveries seen", "", None),
    ("initial_sync", "3 /sync", "initial /sync (median of 3)", "ms", True),
    ("initial_sync_kib", "3 /sync", "initial /sync response size", "KiB", None),
    ("incremental_sync", "3 /sync", "incremental /sync, nothing new (median of 5)", "ms", True),
    ("messages_page", "4 /messages", "per page of 100, backwards (mean)", "ms", True),
    ("messages_events", "4 /messages", "events paged through", "", None),
    ("reg_login_rate", "5 accounts", "registration + login", "users/s", False),
    ("rss_idle", "6 memory", "RSS idle after start", "MiB", True),
    ("rss_peak_send", "6 memory", "peak RSS (VmHWM) after the send workload", "MiB", True),
    ("rss_peak", "6 memory", "peak RSS (VmHWM) after all workloads", "MiB", True),
    ("startup", "6 start-up", "restart on existing database to first answered request", "ms", True),
    ("db_size", "7 disk", "database size after the run", "MiB", True),
]


def show(value: Any) -> str:
    """A table cell."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def ratio(hearth: Any, synapse: Any, lower_is_better: bool | None) -> str:
    """How many times better Hearth is than Synapse on this row (— when either is not a number)."""
    if lower_is_better is None or not isinstance(hearth, (int, float)) or not isinstance(synapse, (int, float)):
        return "—"
    if hearth <= 0 or synapse <= 0:
        return "—"
    times = synapse / hearth if lower_is_better else hearth / synapse
    return f"{times:.2g}×" if times < 10 else f"{times:,.0f}×"


# Figures that depend on what the workloads stored: not comparable when a server skipped the workloads.
WORKLOAD_DEPENDENT = {"rss_peak", "db_size", "startup"}
# One figure of each workload: a string there means the workload did not run to the end.
WORKLOAD_KEYS = ("send_rate", "fanout_p50", "initial_sync", "messages_page", "reg_login_rate")


def table(all_results: dict[str, dict[str, Results]]) -> str:
    """The markdown table: one row per figure, Hearth | Synapse | ratio per backend.

    When a server skipped or failed a workload, its peak memory, database size and restart time were measured
    after less work than the other's: the cell says so and no ratio is given.
    """
    backends = list(all_results)
    head = "| workload | figure | unit |" + "".join(
        f" Hearth {b} | Synapse {b} | Hearth better by |" for b in backends)
    rule = "|---|---|---|" + "---:|---:|---:|" * len(backends)
    lines = [head, rule]
    for key, workload, label, unit, lower in ROWS:
        cells = []
        present = False
        for backend in backends:
            runs = all_results[backend]
            hearth = runs.get("hearth", {}).get(key)
            synapse = runs.get("synapse", {}).get(key)
            present = present or hearth is not None or synapse is not None
            cell_h, cell_s = show(hearth), show(synapse)
            if key in WORKLOAD_DEPENDENT:
                for name in ("hearth", "synapse"):
                    run = runs.get(name, {})
                    if any(isinstance(run.get(k), str) for k in WORKLOAD_KEYS) and run.get(key) is not None:
                        if name == "hearth":
                            cell_h, hearth = cell_h + " (some workloads did not run)", None
                        else:
                            cell_s, synapse = cell_s + " (some workloads did not run)", None
            cells += [cell_h, cell_s, ratio(hearth, synapse, lower)]
        if present:
            lines.append(f"| {workload} | {label} | {unit} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine() -> str:
    """Cores, CPU model and memory from /proc."""
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    return f"{os.cpu_count()} cores ({model}), {mem_kib / 1024 / 1024:.1f} GiB memory"


def git_revision() -> str:
    """The commit measured (short hash, `+dirty` when the work tree differs), or $HEARTH_BENCH_REVISION."""
    if os.environ.get("HEARTH_BENCH_REVISION"):
        return os.environ["HEARTH_BENCH_REVISION"]
    try:
        rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def section(all_results: dict[str, dict[str, Results]], sizes: Sizes, quick: bool, synapse_version: str) -> str:
    """The "Client-server workloads" section of docs/performance.md."""
    stamps = [r["measured_at"] for runs in all_results.values() for r in runs.values() if "measured_at" in r]
    when = min(stamps) if stamps else datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    mode = "`--quick` (smoke-test counts, not the issue's)" if quick else "full (the issue's counts)"
    paragraphs = [
        f"Hearth and Synapse {synapse_version} side by side, the same workloads over the standard client-server "
        "API, driven by `scripts/bench` (load generator: `scripts/bench.d/client_load.py`, Python asyncio + "
        "aiohttp; the send workload's loop " + ("in Rust, `homeserver/examples/send_load.rs`, one thread"
                                                 if SEND_LOAD else "in Python too") + "). Regenerate with `scripts/bench` (`--backend sqlite|postgres|both`, `--quick` for a smoke run).",
        f"Latest run: {when}, Hearth {git_revision()}, mode {mode}; machine: {machine()}, shared with other builds "
        "while measuring (wall-clock figures swing 2-3× with load; CPU per message is the stable one).",
        f"Counts: (0) the send workload's request count as GET /versions, to show the load generator's ceiling; "
        f"(1) {sizes.send_messages} messages into one room from {sizes.send_clients} concurrent clients, one more "
        f"client long-polling /sync; (2) {sizes.fanout_rooms} rooms × {sizes.fanout_members} members (every member "
        f"in every room), all long-polling /sync, {sizes.fanout_messages} messages sent one after another "
        f"round-robin; (3) one user in {sizes.sync_rooms} rooms × {sizes.sync_messages_per_room} messages; "
        f"(4) {sizes.pages} pages of {sizes.page_size} back through room (1); (5) {sizes.reg_users} users "
        "registered (m.login.dummy) then logged in, 8 at a time.",
    ]
    intro = "\n\n".join(textwrap.fill(p, width=116, break_on_hyphens=False) for p in paragraphs)
    return f"""## Client-server workloads

{intro}

{table(all_results)}

Reading the table:
- "Hearth better by" is Synapse ÷ Hearth for times, sizes and CPU, Hearth ÷ Synapse for rates.
- "n/a (endpoint missing: …)" means Hearth does not implement that endpoint yet; the workload was skipped.
- Server CPU is utime + stime from `/proc/PID/stat` before and after the sends (it includes serving the /sync
  observer). On PostgreSQL the backends' CPU (processes titled with the database's name) is a separate row.
- Password hashing differs by design: Hearth uses argon2id (m = 19,456 KiB, t = 2, p = 1, OWASP's minimum);
  Synapse bcrypt with 12 rounds. Registration + login is dominated by it on both.
- Synapse runs with its stock settings except the rate limiters (raised) and loopback federation
  (`e2e/lib/synapse-peer.yaml.in`); it logs at INFO, Hearth at `info` (no per-request lines).
- Synapse answers identical /sync requests from a cache, so repeated syncs vary `timeout` (initial) or an
  equivalent inline filter (incremental).
- Start-up is measured on a restart against the database the run filled, polling /versions every 2 ms.
- The load generator's own CPU per message is shown: when its product with the throughput nears one core, the
  generator, not the server, is the limit.
"""


def write_doc(text: str) -> None:
    """Replaces (or appends) the "Client-server workloads" section of docs/performance.md."""
    path = REPO / "docs" / "performance.md"
    doc = path.read_text()
    marker = "## Client-server workloads"
    if marker in doc:
        start = doc.index(marker)
        rest = doc[start + len(marker):]
        following = rest.find("\n## ")
        end = len(doc) if following < 0 else start + len(marker) + following + 1
        doc = doc[:start] + text + ("\n" + doc[end:] if end < len(doc) else "")
    else:
        doc = doc.rstrip("\n") + "\n\n" + text
    path.write_text(doc)


def log(message: str) -> None:
    """Progress on stderr."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


def synapse_version() -> str:
    """The pinned Synapse version (from scripts/requirements-synapse.txt)."""
    for line in (REPO / "scripts" / "requirements-synapse.txt").read_text().splitlines():
        if line.startswith("matrix-synapse"):
            return line.split("==", 1)[-1]
    return "?"


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hearth", required=True, type=Path, help="the hearth binary (release build)")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--servers", default="hearth,synapse", help="comma-separated: hearth, synapse")
    parser.add_argument("--send-load", type=Path, help="homeserver/examples/send_load.rs built in release mode; "
                        "drives the send workload (default: the Python loop)")
    parser.add_argument("--quick", action="store_true", help="small counts for a smoke run")
    parser.add_argument("--no-write", action="store_true", help="print the table, leave docs/performance.md alone")
    parser.add_argument("--render", type=Path, help="do not measure: render this results file (a last.json)")
    parser.add_argument("--workdir", type=Path, default=Path(os.environ.get("HEARTH_CACHE", Path.home() / ".cache"
                                                                            / "hearth")) / "bench")
    args = parser.parse_args()
    global SEND_LOAD
    SEND_LOAD = args.send_load
    sizes = QUICK if args.quick else Sizes()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    servers = [s for s in args.servers.split(",") if s]
    all_results: dict[str, dict[str, Results]] = {}
    if args.render:
        all_results = json.loads(args.render.read_text())
        backends = []
    for backend in backends:
        all_results[backend] = {}
        for kind in servers:
            workdir = args.workdir / f"{kind}-{backend}-{secrets.token_hex(3)}"
            try:
                target = Target(kind, backend, workdir, args.hearth)
                all_results[backend][kind] = await run_target(target, sizes)
            except (HarnessError, BenchError, OSError, subprocess.SubprocessError) as error:
                log(f"{kind}/{backend} could not run: {error}")
                all_results[backend][kind] = {"send_rate": f"failed: {str(error).splitlines()[0][:160]}"}
    text = section(all_results, sizes, args.quick, synapse_version())
    print(text)
    if not args.render:
        results_file = args.workdir / "last.json"
        results_file.parent.mkdir(parents=True, exist_ok=True)
        results_file.write_text(json.dumps(all_results, indent=2))
    if not args.no_write:
        write_doc(text)
        log("wrote the table to docs/performance.md")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
