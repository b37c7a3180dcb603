"""Benchmark: complete LTI 1.3 login + launch round trips against gunicorn and PostgreSQL on loopback.

Run by hand from the repository root (about 90 s with the defaults):

    .venv/bin/python benchmarks/launch.py [--clients 1,8,16] [--duration 20] [--warmup 3] [--no-profile]
        [--server-url postgresql+psycopg://root@127.0.0.1:5432] [--database mastery_launch_bench]

It drops and recreates its own database (the name must start with `mastery_launch_bench`, so it can never
touch another one), migrates it, registers a platform whose JWKS this script serves itself on loopback, and
starts the production server: `gunicorn -c deploy/gunicorn.conf.py lti_tool.wsgi:app` on a free loopback
port. Each load-generator client then loops over what a browser and a platform do in a launch:

    GET /lti/login (iss, login_hint, target_link_uri, client_id, lti_deployment_id)  -> 302 + state cookie
    sign an id_token as the platform (RS256; the nonce from the redirect)
    POST /lti/launch (id_token, state, cookie)                                        -> 303 to the landing

Learners (9 in 10) and instructors launch from a handful of contexts, with a different `sub` each time out
of a population large enough that most launches create a person and an enrollment. Only launches that start
after the warm-up count, latency is the full round trip including the client's signing, and every failure
is counted (the target is zero).

The load generator is threads in this process, one keep-alive http.client connection each (requests
costs 3x the client CPU per request; see HttpTransport). Threads, not processes, by measurement: a round
trip costs the generator about 1 ms of CPU (its id_token signing included) against about 11 ms of gunicorn
CPU, so even at full load it uses ~0.1 core and its GIL is far from saturated; processes would add only
start-up cost. Generator and server share the same cores, so the generator's CPU share is printed beside
gunicorn's (total and per worker), PostgreSQL's and the machine's, to show what each figure was measured
against ("anything else" is other processes on the machine, such as a concurrent test run).

Then the floor: one RS256 verification (joserfc, the platform key, the same token shape) plus one
PostgreSQL round trip (SELECT 1 through a SQLAlchemy engine), in a loop in this process, as ms and as the
launches/s it would allow on the machine's cores if a launch cost nothing else.
Targets: >= 200 launches/s on 2 cores and p95 <= 50 ms at 8 concurrent clients.

Last, unless --no-profile: cProfile of 200 launches through create_app and the Flask test client (same
database, same platform), top entries by cumulative time, to show where a worker's time goes.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import http.client
import json
import os
import pstats
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import parse_qs, urlencode, urlsplit
from urllib.request import urlopen

from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import create_engine, event, make_url, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lti_tool.app import create_app
from lti_tool.db import make_engine, upgrade_database
from lti_tool.keys import current_signing_key
from lti_tool.models import RegistrationStatus, utcnow
from lti_tool.registrations import add_platform, tool_urls
from lti_tool.settings import Settings
from lti_tool.web.session import app_state

ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"
DATABASE_PREFIX = "mastery_launch_bench"

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
ROLE_LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
ROLE_INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
ISSUER = "https://lms.launch-bench.example"
CLIENT_ID = "mastery-bridge-launch-bench"
DEPLOYMENT_ID = "launch-bench-deployment-1"
CONTEXTS = tuple((f"course-{n}", f"Benchmark course {n}") for n in range(1, 7))
RESOURCE_LINKS_PER_CONTEXT = 4
LEARNERS = 20_000
INSTRUCTORS = 12
INSTRUCTOR_SHARE = 0.1
JWKS_MAX_AGE_SECONDS = 300

TARGET_LAUNCHES_PER_SECOND = 200
TARGET_P95_MS = 50
TARGET_CLIENTS = 8
PROFILE_LAUNCHES = 200


class BenchError(Exception):
    """A launch round trip that did not end where a browser's would (bad status, missing redirect or cookie)."""


# The platform: an RSA key, its JWKS on loopback, and id_tokens signed with it ------------------------------


@dataclass(frozen=True, slots=True)
class Platform:
    """The LMS side of the benchmark: signs id_tokens for the tool at `launch_url`."""

    key: RSAKey
    launch_url: str

    @property
    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        public = {**self.key.as_dict(private=False), "kid": self.key.kid, "alg": "RS256", "use": "sig"}
        return {"keys": [public]}

    def claims(self, nonce: str, rng: random.Random) -> dict[str, Any]:
        """The id_token claims of one resource-link launch (LTI 1.3 Core §5.3, §5.4) by a random person."""
        is_instructor = rng.random() < INSTRUCTOR_SHARE
        number = rng.randrange(INSTRUCTORS if is_instructor else LEARNERS)
        sub = f"{'instructor' if is_instructor else 'learner'}-{number:05d}"
        context_id, context_title = rng.choice(CONTEXTS)
        now = int(time.time())
        return {
            "iss": ISSUER,
            "aud": CLIENT_ID,
            "azp": CLIENT_ID,
            "sub": sub,
            "exp": now + 300,
            "iat": now,
            "nonce": nonce,
            "given_name": "Bench",
            "family_name": sub,
            LTI + "message_type": "LtiResourceLinkRequest",
            LTI + "version": "1.3.0",
            LTI + "deployment_id": DEPLOYMENT_ID,
            LTI + "target_link_uri": self.launch_url,
            LTI + "resource_link": {"id": f"{context_id}-link-{rng.randrange(RESOURCE_LINKS_PER_CONTEXT)}"},
            LTI + "roles": [ROLE_INSTRUCTOR if is_instructor else ROLE_LEARNER],
            LTI + "context": {"id": context_id, "label": context_id.upper(), "title": context_title},
        }

    def sign(self, claims: Mapping[str, Any]) -> str:
        return jwt.encode({"alg": "RS256", "kid": self.key.kid, "typ": "JWT"}, dict(claims), self.key)


class JwksServer:
    """The platform's key set on a loopback port, cacheable for five minutes like a real platform's."""

    def __init__(self, platform: Platform) -> None:
        body = json.dumps(platform.jwks).encode()
        counter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/jwks.json":
                    self.send_error(404)
                    return
                counter.fetches += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", f"public, max-age={JWKS_MAX_AGE_SECONDS}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.fetches = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="jwks", daemon=True)

    def __enter__(self) -> JwksServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


# The database -----------------------------------------------------------------------------------------------


def recreate_database(server_url: str, name: str) -> str:
    """Drop and create database `name` on the server; return its SQLAlchemy URL."""
    if not name.startswith(DATABASE_PREFIX) or not name.replace("_", "").isalnum():
        raise SystemExit(
            f"--database must start with {DATABASE_PREFIX!r} (it is dropped first), got {name!r}"
        )
    admin = create_engine(make_url(server_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def prepare_database(database_url: str, jwks_url: str, secret_key: str) -> None:
    """Migrate, register the benchmark platform (active) and make sure the tool has a signing key."""
    upgrade_database(database_url)
    engine = make_engine(database_url)
    try:
        with Session(engine) as session, session.begin():
            add_platform(
                session,
                issuer=ISSUER,
                client_id=CLIENT_ID,
                deployment_id=DEPLOYMENT_ID,
                auth_login_url=f"{ISSUER}/auth",
                auth_token_url=f"{ISSUER}/token",
                key_set_url=jwks_url,
                name="Launch benchmark LMS",
                status=RegistrationStatus.ACTIVE,
            )
            current_signing_key(session, secret_key, now=utcnow())
    finally:
        engine.dispose()


# gunicorn and CPU accounting ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _proc_stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # the process ended between listing and reading
        return None
    # Fields after the command name, which is in parentheses and may contain spaces: state is [0].
    return raw[raw.rindex(")") + 2 :].split()


_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(fields: list[str], *, with_children: bool) -> float:
    # proc(5): utime, stime, cutime, cstime are fields 14-17, i.e. [11:15] after the command name.
    ticks = int(fields[11]) + int(fields[12])
    if with_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / _TICKS


def tree_cpu_seconds(root_pid: int) -> dict[int, float]:
    """CPU seconds by pid of `root_pid` (plus children it reaped: restarted workers) and its live children."""
    seconds: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _proc_stat(int(entry.name))
        if fields is None:
            continue
        if int(entry.name) == root_pid:
            seconds[root_pid] = _cpu_seconds(fields, with_children=True)
        elif int(fields[1]) == root_pid:
            seconds[int(entry.name)] = _cpu_seconds(fields, with_children=False)
    return seconds


def postgres_cpu_seconds(database: str) -> float:
    """CPU seconds of the PostgreSQL backends connected to `database` (ours only, not other users')."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if not cmdline.startswith(b"postgres: ") or f" {database} ".encode() not in cmdline:
            continue
        fields = _proc_stat(int(entry.name))
        if fields is not None:
            total += _cpu_seconds(fields, with_children=False)
    return total


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent not idle since boot (/proc/stat), to see load from other processes."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / _TICKS


@dataclass(frozen=True, slots=True)
class CpuSample:
    wall: float
    generator: float
    gunicorn_by_pid: dict[int, float]
    postgres: float
    machine: float

    @property
    def gunicorn(self) -> float:
        return sum(self.gunicorn_by_pid.values())


class Gunicorn:
    """`gunicorn -c deploy/gunicorn.conf.py lti_tool.wsgi:app` on a free loopback port, stopped on exit."""

    def __init__(self, env: Mapping[str, str], port: int, log: IO[bytes]) -> None:
        self.base_url = f"http://127.0.0.1:{port}"
        self._env = {**os.environ, **env, "MB_BIND": f"127.0.0.1:{port}"}
        self._log = log
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("gunicorn is not running")
        return self._process.pid

    def __enter__(self) -> Gunicorn:
        command = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "lti_tool.wsgi:app"]
        # Own session: a Ctrl-C in the terminal reaches only this script, whose `finally` stops gunicorn
        # in order (SIGTERM, then SIGKILL to the whole group if it lingers).
        self._process = subprocess.Popen(
            command, cwd=ROOT, env=self._env, stdout=self._log, stderr=self._log, start_new_session=True
        )
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise SystemExit(f"gunicorn exited with status {self._process.returncode}; see its log above")
            with contextlib.suppress(OSError), urlopen(f"{self.base_url}/healthz", timeout=1) as response:
                if response.status == 200:
                    return
            time.sleep(0.1)
        raise SystemExit(f"gunicorn did not answer /healthz within {timeout:.0f} s")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)

    def __exit__(self, *exc: object) -> None:
        self.stop()


# One launch, over HTTP or through the Flask test client ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    """What the round trip needs of a response: its status, redirect target and Set-Cookie headers."""

    status: int
    location: str | None
    set_cookies: list[str]


class Transport(Protocol):
    def get(self, path: str, params: Mapping[str, str]) -> Reply: ...

    def post(self, path: str, form: Mapping[str, str], cookie: str) -> Reply: ...


class HttpTransport:
    """One keep-alive HTTP/1.1 connection per client, with http.client.

    Not requests: measured here, requests costs 0.76 ms of client CPU per request against 0.26 ms for
    http.client, and on a 2-core machine every millisecond the generator spends is taken from the server
    it measures. Cookies are passed by hand: the tool's state cookies are Secure, which a browser sends
    over https only, and this loopback server is plain http.
    """

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self._connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)

    def _send(self, method: str, path: str, body: str | None, headers: Mapping[str, str]) -> Reply:
        try:
            self._connection.request(method, path, body=body, headers=dict(headers))
            response = self._connection.getresponse()
            response.read()
        except (http.client.HTTPException, OSError):
            self._connection.close()  # the next request opens a new connection
            raise
        return Reply(
            response.status, response.getheader("Location"), response.msg.get_all("Set-Cookie") or []
        )

    def get(self, path: str, params: Mapping[str, str]) -> Reply:
        return self._send("GET", f"{path}?{urlencode(params)}", None, {})

    def post(self, path: str, form: Mapping[str, str], cookie: str) -> Reply:
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
        return self._send("POST", path, urlencode(form), headers)

    def close(self) -> None:
        self._connection.close()


class FlaskTransport:
    """The Flask test client, for profiling the app in-process."""

    def __init__(self, app: Any) -> None:
        self._client = app.test_client(use_cookies=False)

    def get(self, path: str, params: Mapping[str, str]) -> Reply:
        response = self._client.get(path, query_string=dict(params))
        return Reply(
            response.status_code, response.headers.get("Location"), response.headers.getlist("Set-Cookie")
        )

    def post(self, path: str, form: Mapping[str, str], cookie: str) -> Reply:
        response = self._client.post(path, data=dict(form), headers={"Cookie": cookie})
        return Reply(
            response.status_code, response.headers.get("Location"), response.headers.getlist("Set-Cookie")
        )


@dataclass(slots=True)
class Timings:
    login: float = 0.0
    sign: float = 0.0
    launch: float = 0.0


def launch_once(transport: Transport, platform: Platform, rng: random.Random, timings: Timings) -> None:
    """One login initiation, id_token and launch post; BenchError unless it lands like a browser's would."""
    started = time.perf_counter()
    login = transport.get(
        "/lti/login",
        {
            "iss": ISSUER,
            "login_hint": f"hint-{rng.randrange(1_000_000)}",
            "target_link_uri": platform.launch_url,
            "client_id": CLIENT_ID,
            "lti_deployment_id": DEPLOYMENT_ID,
        },
    )
    if login.status != 302 or login.location is None:
        raise BenchError(f"login answered {login.status}, not a 302 redirect")
    query = parse_qs(urlsplit(login.location).query)
    state, nonce, redirect_uri = (query.get(name, [""])[0] for name in ("state", "nonce", "redirect_uri"))
    if not (state and nonce) or redirect_uri != platform.launch_url:
        raise BenchError(f"login redirect lacks state/nonce or names redirect_uri {redirect_uri!r}")
    cookie_name = "mb_lti_state_" + state.split(".", 1)[0]
    cookie = next((c.split(";", 1)[0] for c in login.set_cookies if c.startswith(cookie_name + "=")), None)
    if cookie is None:
        raise BenchError(f"login set no {cookie_name} cookie")
    signing = time.perf_counter()
    id_token = platform.sign(platform.claims(nonce, rng))
    posting = time.perf_counter()
    launch = transport.post("/lti/launch", {"id_token": id_token, "state": state}, cookie)
    if launch.status != 303 or launch.location is None:
        raise BenchError(f"launch answered {launch.status}, not a 303 to the landing page")
    ended = time.perf_counter()
    timings.login += signing - started
    timings.sign += posting - signing
    timings.launch += ended - posting


# The load run ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class ClientLog:
    """What one client saw: (start, end) of each finished round trip, its errors and stage times."""

    rounds: list[tuple[float, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    timings: Timings = field(default_factory=Timings)


@dataclass(frozen=True, slots=True)
class RunResult:
    clients: int
    launches: int
    duration: float
    latencies_ms: list[float]
    errors: list[str]
    timings: Timings
    cpu: tuple[CpuSample, CpuSample]
    gunicorn_pid: int

    @property
    def rate(self) -> float:
        return self.launches / self.duration

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _client_loop(
    base_url: str, platform: Platform, seed: int, measure_from: float, stop_at: float, log: ClientLog
) -> None:
    transport = HttpTransport(base_url)
    rng = random.Random(seed)
    measured = Timings()
    try:
        while (started := time.perf_counter()) < stop_at:
            stage = Timings()
            try:
                launch_once(transport, platform, rng, stage)
            except (BenchError, http.client.HTTPException, OSError) as exc:
                log.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            ended = time.perf_counter()
            if started >= measure_from:
                log.rounds.append((started, ended))
                measured.login += stage.login
                measured.sign += stage.sign
                measured.launch += stage.launch
    finally:
        transport.close()
    log.timings = measured


def sample_cpu(gunicorn_pid: int, database: str) -> CpuSample:
    return CpuSample(
        wall=time.perf_counter(),
        generator=time.process_time(),
        gunicorn_by_pid=tree_cpu_seconds(gunicorn_pid),
        postgres=postgres_cpu_seconds(database),
        machine=machine_busy_seconds(),
    )


def run_load(
    server: Gunicorn, platform: Platform, database: str, clients: int, warmup: float, duration: float
) -> RunResult:
    """`clients` threads launching for `warmup` + `duration` seconds; only the second part is measured."""
    start = time.perf_counter()
    measure_from, stop_at = start + warmup, start + warmup + duration
    logs = [ClientLog() for _ in range(clients)]
    threads = [
        threading.Thread(
            target=_client_loop,
            args=(server.base_url, platform, 1000 * clients + n, measure_from, stop_at, logs[n]),
            name=f"client-{n}",
            daemon=True,
        )
        for n in range(clients)
    ]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, measure_from - time.perf_counter()))
    before = sample_cpu(server.pid, database)
    time.sleep(max(0.0, stop_at - time.perf_counter()))
    after = sample_cpu(server.pid, database)
    for thread in threads:
        thread.join(timeout=30)
    if any(thread.is_alive() for thread in threads):
        raise SystemExit("a client did not finish within 30 s of the end of the run")
    finished = [end for log in logs for _, end in log.rounds if end <= stop_at]
    timings = Timings()
    for log in logs:
        timings.login += log.timings.login
        timings.sign += log.timings.sign
        timings.launch += log.timings.launch
    return RunResult(
        clients=clients,
        launches=len(finished),
        duration=duration,
        latencies_ms=[(end - begin) * 1000 for log in logs for begin, end in log.rounds],
        errors=[error for log in logs for error in log.errors],
        timings=timings,
        cpu=(before, after),
        gunicorn_pid=server.pid,
    )


def print_run(result: RunResult, cores: int) -> None:
    before, after = result.cpu
    wall = after.wall - before.wall
    measured = len(result.latencies_ms) or 1
    print(
        f"{result.clients:>3} clients  {result.rate:7.1f} launches/s  "
        f"p50 {result.percentile(50):6.1f}  p95 {result.percentile(95):6.1f}  "
        f"p99 {result.percentile(99):6.1f} ms  errors {len(result.errors)}"
    )
    print(
        f"             round trip = login {result.timings.login / measured * 1000:.1f} + client signing "
        f"{result.timings.sign / measured * 1000:.1f} + launch {result.timings.launch / measured * 1000:.1f} ms"
        " (means)"
    )
    shares = {
        "gunicorn": (after.gunicorn - before.gunicorn) / wall,
        "postgres (ours)": (after.postgres - before.postgres) / wall,
        "generator": (after.generator - before.generator) / wall,
        "machine": (after.machine - before.machine) / wall,
    }
    other = shares["machine"] - shares["gunicorn"] - shares["postgres (ours)"] - shares["generator"]
    print(
        "             CPU, cores busy: "
        + ", ".join(f"{name} {value:.2f}" for name, value in shares.items())
        + f" of {cores}; anything else {max(0.0, other):.2f}"
    )
    per_launch = (after.gunicorn - before.gunicorn) / max(1, result.launches) * 1000
    # Per worker: gthread workers accept keep-alive connections beyond their thread count, so one worker
    # can end up serving most clients while another idles; this shows how evenly the load spread.
    workers = sorted(
        (after.gunicorn_by_pid[pid] - before.gunicorn_by_pid.get(pid, 0.0)) / wall
        for pid in after.gunicorn_by_pid
        if pid != result.gunicorn_pid
    )
    print(
        f"             gunicorn CPU per launch {per_launch:.2f} ms; by worker (cores): "
        + " ".join(f"{share:.2f}" for share in reversed(workers))
    )
    for error in sorted(set(result.errors))[:5]:
        print(f"             error: {error}")


# The floor ------------------------------------------------------------------------------------------------


def measure(loop: Callable[[], object], seconds: float = 1.5) -> float:
    """Mean seconds per call of `loop` over about `seconds` (after 50 warm-up calls)."""
    for _ in range(50):
        loop()
    calls, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(50):
            loop()
        calls += 50
    return elapsed / calls


def print_floor(database_url: str, platform: Platform, cores: int) -> float:
    """Print and return the floor in seconds: one RS256 verification plus one PostgreSQL round trip."""
    rng = random.Random(0)
    token = platform.sign(platform.claims(secrets.token_urlsafe(32), rng))
    public_key = RSAKey.import_key(platform.jwks["keys"][0])
    verify = measure(lambda: jwt.decode(token, public_key, algorithms=["RS256"]))
    sign = measure(lambda: platform.sign(platform.claims("n" * 43, rng)))
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            select_one = text("SELECT 1")
            round_trip = measure(lambda: connection.execute(select_one).scalar_one())
    finally:
        engine.dispose()
    floor = verify + round_trip
    print(
        f"floor: RS256 verify {verify * 1000:.3f} ms + SELECT 1 round trip {round_trip * 1000:.3f} ms "
        f"= {floor * 1000:.3f} ms -> {cores / floor:,.0f} launches/s on {cores} cores"
    )
    print(f"       (the generator's RS256 signing, not in the floor: {sign * 1000:.3f} ms per id_token)")
    return floor


# The profile ----------------------------------------------------------------------------------------------


def print_profile(database_url: str, platform: Platform, secret_key: str, launches: int) -> None:
    """cProfile `launches` login + launch round trips through the app in this process; print the top 15."""
    app = create_app(
        Settings(
            database_url=database_url,
            data_dir=Path(tempfile.gettempdir()),
            public_base_url=platform.launch_url.removesuffix("/lti/launch"),
            secret_key=secret_key,
            log_level="WARNING",
            is_debug=False,
        )
    )
    try:
        transport = FlaskTransport(app)
        rng = random.Random(7)
        for _ in range(20):  # fetch the JWKS, fill the pool and caches, as a worker would have long done
            launch_once(transport, platform, rng, Timings())
        statements: Counter[str] = Counter()

        def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            statements[statement.split(None, 1)[0].upper()] += 1

        engine = app_state(app).engine
        event.listen(engine, "before_cursor_execute", count)
        cpu_started, started = time.process_time(), time.perf_counter()
        for _ in range(launches):
            launch_once(transport, platform, rng, Timings())
        cpu, elapsed = time.process_time() - cpu_started, time.perf_counter() - started
        event.remove(engine, "before_cursor_execute", count)
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(launches):
            launch_once(transport, platform, rng, Timings())
        profile.disable()
    finally:
        app_state(app).dispose()
    per_launch = ", ".join(f"{kind} {n / launches:.1f}" for kind, n in statements.most_common())
    print(
        f"in-process, {launches} login + launch round trips (Flask test client, no profiler): "
        f"{elapsed / launches * 1000:.2f} ms wall, {cpu / launches * 1000:.2f} ms CPU each (client signing "
        f"included); SQL statements per round trip: {sum(statements.values()) / launches:.1f} ({per_launch})"
    )
    stats = pstats.Stats(profile, stream=sys.stdout)
    print(f"profile of {launches} more under cProfile: own time by package, per round trip")
    for package, seconds in _own_time_by_package(stats).most_common(10):
        print(f"  {seconds / launches * 1000:7.3f} ms  {package}")
    print("top 15 by cumulative time:")
    stats.strip_dirs().sort_stats("cumulative").print_stats(15)


def _own_time_by_package(stats: pstats.Stats) -> Counter[str]:
    """Sum each function's own time by third-party package, repository folder or 'stdlib'/'builtins'."""
    totals: Counter[str] = Counter()
    raw: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    for (filename, _line, _name), (_calls, _primitive, own, *_rest) in raw.items():
        if "site-packages/" in filename:
            package = filename.split("site-packages/", 1)[1].split("/", 1)[0]
        elif filename.startswith(str(ROOT)):
            package = "/".join(Path(filename).relative_to(ROOT).parts[:2])
        elif filename == "~":
            package = "builtins (C: crypto, I/O wait, ...)"
        else:
            package = "stdlib"
        totals[package] += own
    return totals


# Main -----------------------------------------------------------------------------------------------------


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "BELOW"


@contextlib.contextmanager
def _gunicorn_log() -> Iterator[IO[bytes]]:
    with tempfile.TemporaryFile() as log:
        try:
            yield log
        except BaseException:
            log.seek(0)
            tail = log.read()[-4000:].decode(errors="replace")
            if tail:
                print(f"--- gunicorn log (tail) ---\n{tail}", file=sys.stderr)
            raise


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="1,8,16", help="comma-separated concurrency levels")
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds per level")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds before each level")
    parser.add_argument("--server-url", default="postgresql+psycopg://root@127.0.0.1:5432")
    parser.add_argument("--database", default=DATABASE_PREFIX)
    parser.add_argument("--no-profile", action="store_true", help="skip the in-process cProfile")
    args = parser.parse_args()
    levels = [int(level) for level in args.clients.split(",")]
    if not levels or min(levels) < 1 or max(levels) > 64 or not 1 <= args.duration <= 120:
        parser.error("--clients must be 1..64 each and --duration 1..120 s")
    cores = _cores()
    secret_key = secrets.token_urlsafe(32)

    database_url = recreate_database(args.server_url, args.database)
    port = free_port()
    platform = Platform(
        key=RSAKey.generate_key(2048, private=True, auto_kid=True),
        launch_url=tool_urls(f"http://127.0.0.1:{port}").launch_url,
    )
    results: dict[int, RunResult] = {}
    with JwksServer(platform) as jwks:
        prepare_database(database_url, f"{jwks.base_url}/jwks.json", secret_key)
        env = {
            "DATABASE_URL": database_url,
            "MB_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "MB_SECRET_KEY": secret_key,
            "MB_ENV": "production",
            "MB_LOG_LEVEL": "WARNING",
        }
        with _gunicorn_log() as log, Gunicorn(env, port, log) as server:
            workers = len(
                [p for p in Path("/proc").iterdir() if p.name.isdigit() and _is_child(p, server.pid)]
            )
            print(
                f"gunicorn {server.base_url} (deploy/gunicorn.conf.py: {workers} workers, gthread), "
                f"PostgreSQL database {args.database}, {cores} cores; load generator: threads, this process"
            )
            for clients in levels:
                results[clients] = run_load(
                    server, platform, args.database, clients, args.warmup, args.duration
                )
                print_run(results[clients], cores)
        print(f"platform JWKS fetched {jwks.fetches} times (once per worker, then cached by max-age)")
        floor = print_floor(database_url, platform, cores)
        if not args.no_profile:
            print_profile(database_url, platform, secret_key, PROFILE_LAUNCHES)

    errors = sum(len(result.errors) for result in results.values())
    best = max(result.rate for result in results.values())
    rate_target = TARGET_LAUNCHES_PER_SECOND * cores / 2
    print("targets:")
    print(
        f"  throughput  >= {rate_target:.0f} launches/s on {cores} cores: best {best:.1f}/s "
        f"({best * floor / cores:.1%} of the floor's {cores / floor:,.0f}/s)  [{_verdict(best >= rate_target)}]"
    )
    if TARGET_CLIENTS in results:
        p95 = results[TARGET_CLIENTS].percentile(95)
        print(
            f"  latency     p95 <= {TARGET_P95_MS} ms at {TARGET_CLIENTS} clients: {p95:.1f} ms  "
            f"[{_verdict(p95 <= TARGET_P95_MS)}]"
        )
    print(f"  errors      0: {errors}  [{_verdict(errors == 0)}]")
    print("  (reference: a bare pylti1p3 Flask tool with no database does ~180 launches/s here)")
    return 0 if errors == 0 else 1


def _is_child(entry: Path, parent: int) -> bool:
    fields = _proc_stat(int(entry.name))
    return fields is not None and int(fields[1]) == parent


def _stop_on_signal(signum: int, _frame: object) -> None:
    # Unwind through the `with` blocks, which stop gunicorn and the JWKS server, as Ctrl-C does.
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    # Ctrl-C raises KeyboardInterrupt even when started from a shell that ignores SIGINT for background jobs.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _stop_on_signal)
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
    sys.exit(130)
