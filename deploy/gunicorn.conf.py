"""gunicorn settings for production: `gunicorn -c deploy/gunicorn.conf.py lti_tool.wsgi:app`.

The tool's own configuration (DATABASE_URL, MB_SECRET_KEY, ...) is read by `lti_tool.settings` in each
worker; this file reads only the process knobs below, all optional, from the same environment:

    MB_BIND                 address to listen on (default 127.0.0.1:8000; loopback, behind a TLS proxy)
    MB_WORKERS              worker processes (default 2 x the CPU cores this process may use)
    MB_THREADS              threads per worker (default 4)
    MB_FORWARDED_ALLOW_IPS  proxies whose X-Forwarded-* headers are trusted (default 127.0.0.1,::1)
    MB_ACCESS_LOG           access log target, "-" for stdout or a file path (default: off)
    MB_LOG_LEVEL            also the level of gunicorn's own error log (default INFO)
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any


def _cores() -> int:
    # sched_getaffinity honours taskset/cpuset limits (containers); cpu_count() would see the whole host.
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a positive integer, got {raw!r}") from None
    if value < 1:
        raise SystemExit(f"{name} must be a positive integer, got {raw!r}")
    return value


LOG_LEVEL = os.environ.get("MB_LOG_LEVEL", "INFO").strip().upper() or "INFO"

# Loopback only: the TLS-terminating proxy (nginx, Caddy) is the one thing that should reach gunicorn. This
# matters beyond hygiene: the app trusts one hop of X-Forwarded-For/Proto/Host (ProxyFix in create_app), so
# a client that could reach gunicorn directly could forge its scheme and host.
bind = [os.environ.get("MB_BIND", "127.0.0.1:8000")]

# A launch is mostly CPU (JWT verification, templates, ORM) between short PostgreSQL round trips, so
# processes, not threads, give parallelism under the GIL; 2 per core keeps every core busy while one worker
# waits on the database. The launch benchmark (benchmarks/launch.py) is the place to check a change.
workers = _positive_int("MB_WORKERS", 2 * _cores())

# gthread: each worker serves `threads` requests at once, so a launch waiting on the database, a platform's
# JWKS or an NRPS roster refresh does not hold up the others in the same process; sync workers would.
worker_class = "gthread"
threads = _positive_int("MB_THREADS", 4)
# How many connections one worker holds open: its threads plus 2 idle keep-alive ones. gthread's default
# (1000) let one worker take every keep-alive connection of a proxy that pools them (Caddy does): in the
# launch benchmark 8 clients all landed on one worker, GIL-bound at 1 core, 83 launches/s with 3 workers
# idle; with this cap the same run spread over all 4 and did 124/s. A worker at its cap closes a finished
# connection instead of keeping it alive, so the cap costs a reconnect, never a stall.
worker_connections = threads + 2

# Requests from these addresses may set X-Forwarded-Proto etc. (gunicorn then reports https to the app, and
# the app's Secure, SameSite=None state cookies and absolute URLs are right). Only the local proxy.
forwarded_allow_ips = os.environ.get("MB_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Access log off by default: request lines and referrers carry the platform's login_hint and the signed
# session token (`mb_session`) of a student, so a per-request log is student data. The proxy's log, if
# any, falls under the same rule. Turn it on (MB_ACCESS_LOG=-) only to debug, and delete it after.
accesslog = os.environ.get("MB_ACCESS_LOG") or None
# Errors to stderr, where systemd/journald or the container runtime collects them.
errorlog = "-"
loglevel = LOG_LEVEL.lower()

# A worker that has not checked in for 30 s is stuck (gthread checks in from its main loop, not from each
# request) and is replaced. The slowest legitimate requests, a launch that fetches a platform JWKS (5 s
# read timeout) or refreshes a roster over NRPS, stay well inside it.
timeout = 30
# On SIGTERM/HUP, let running launches finish for up to 30 s before workers are killed.
graceful_timeout = 30
# Idle keep-alive connections from the proxy are kept 5 s: enough to reuse one between a login redirect
# and the launch post behind nginx `keepalive`, short enough not to pin threads.
keepalive = 5

# Login initiation arrives as a GET whose query carries login_hint and lti_message_hint; some platforms put
# a JWT in the hint, so allow gunicorn's maximum request line rather than its 4 KiB default.
limit_request_line = 8190

# No preload: each worker imports the app and builds its own database pool and platform-key cache after
# the fork, so no connection or lock is ever shared between processes, and `kill -HUP` reloads new code.
preload_app = False

# The workers' heartbeat files on tmpfs (gunicorn's own advice): on a disk-backed /tmp a slow write can
# make gunicorn think a healthy worker hung. Only gunicorn's heartbeat files go there, no data.
_SHM = "/dev/shm"  # noqa: S108 - a fixed tmpfs for heartbeats, not a predictable temp file of ours
worker_tmp_dir = _SHM if os.path.isdir(_SHM) else None

# gunicorn >= 25.1 opens a control socket at ~/.gunicorn/gunicorn.ctl by default, one path for every
# gunicorn the user runs. Nothing here uses it; older gunicorn ignores this unknown setting.
control_socket_disable = True

proc_name = "mastery-bridge"


def on_starting(server: Any) -> None:
    """Send the app's own loggers to stderr at MB_LOG_LEVEL; gunicorn configures only its own loggers.

    Done in the master before any fork, so every worker inherits it. Propagation stops at these loggers so
    their lines are not also printed by whatever else is attached to the root logger.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"))
    for name in ("lti_tool", "connectors", "mastery_bridge"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(LOG_LEVEL)
        logger.propagate = False
