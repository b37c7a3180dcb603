"""`sis test` network checks: DNS, TCP, TLS, an unauthenticated HTTP request, and clock skew from `Date`."""

from __future__ import annotations

import socket
import ssl
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import requests

from connectors.oneroster.http import new_session
from lti_tool.models import SisAuth
from lti_tool.sis.check_results import (
    CERT_WARN_DAYS,
    CLOCK_FAIL_SECONDS_OAUTH1,
    CLOCK_WARN_SECONDS,
    CheckRun,
    Verdict,
)
from lti_tool.sis.clients import rostering_url


def check_dns(run: CheckRun, host: str, port: int) -> Verdict:
    """The host name resolves."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        return run.add(
            "dns",
            Verdict.FAIL,
            f"cannot resolve host {host!r} ({os_reason(exc)}): check the host name in the base URL, "
            "or this server's DNS settings",
        )
    first = str(addresses[0][4][0]) if addresses else "?"
    return run.add("dns", Verdict.PASS, f"{host} resolves to {first}")


def check_tcp(run: CheckRun, host: str, port: int) -> Verdict:
    """Something accepts a TCP connection on the port."""
    try:
        with socket.create_connection((host, port), timeout=run.timeout):
            pass
    except ConnectionRefusedError:
        return run.add(
            "tcp",
            Verdict.FAIL,
            f"{host}:{port} refused the connection: check the port in the base URL and that the SIS is running",
        )
    except TimeoutError:
        return run.add(
            "tcp",
            Verdict.FAIL,
            f"no answer from {host}:{port} within {run.timeout:g} s: a firewall may drop the traffic; ask the "
            "vendor to allow this server's address",
        )
    except OSError as exc:
        return run.add("tcp", Verdict.FAIL, f"cannot connect to {host}:{port} ({os_reason(exc)})")
    return run.add("tcp", Verdict.PASS, f"{host}:{port} accepts connections")


def check_tls(run: CheckRun, scheme: str, host: str, port: int) -> Verdict:
    """The certificate verifies against the system CAs and is not about to expire (https only)."""
    if scheme != "https":
        return run.add("tls", Verdict.SKIP, "not needed: plain http, accepted only for loopback test servers")
    context = ssl.create_default_context()
    try:
        with (
            socket.create_connection((host, port), timeout=run.timeout) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            certificate = tls.getpeercert() or {}
            version = tls.version() or "TLS"
    except ssl.SSLCertVerificationError as exc:
        return run.add(
            "tls",
            Verdict.FAIL,
            f"the certificate of {host} is not trusted ({exc.verify_message}): the vendor must fix its "
            "certificate, or this server lacks the issuing CA",
        )
    except (ssl.SSLError, OSError) as exc:
        return run.add("tls", Verdict.FAIL, f"TLS handshake with {host}:{port} failed ({os_reason(exc)})")
    not_after = certificate.get("notAfter")
    if isinstance(not_after, str):
        expires = datetime.fromtimestamp(ssl.cert_time_to_seconds(not_after), UTC)
        if expires - run.clock() < timedelta(days=CERT_WARN_DAYS):
            return run.add(
                "tls",
                Verdict.WARN,
                f"{version}; the certificate of {host} expires {expires:%Y-%m-%d}: tell the vendor",
            )
        return run.add("tls", Verdict.PASS, f"{version}; certificate valid until {expires:%Y-%m-%d}")
    return run.add("tls", Verdict.PASS, f"{version}; certificate verified")


def check_http(run: CheckRun) -> Verdict:
    """The OneRoster path answers an unauthenticated GET (401 expected); records the server's Date."""
    url = f"{rostering_url(run.connection)}/orgs"
    session = new_session()
    try:
        response = session.get(url, params={"limit": "1"}, timeout=run.timeout)
        run.local_date = run.clock()
        status = response.status_code
        run.server_date = _http_date(response.headers.get("Date"))
        response.close()
    except requests.RequestException as exc:
        return run.add("http", Verdict.FAIL, f"GET {url} failed ({type(exc).__name__}): {short(exc)}")
    finally:
        session.close()
    if status in (401, 403):
        return run.add("http", Verdict.PASS, f"{url} answered HTTP {status} without credentials, as expected")
    if status == 404:
        return run.add(
            "http",
            Verdict.FAIL,
            f"{url} answered HTTP 404: the base URL's vendor prefix or the version "
            f"({run.connection.version.value}) is probably wrong; the vendor's documentation gives the base URL",
        )
    if status >= 500:
        return run.add(
            "http",
            Verdict.FAIL,
            f"{url} answered HTTP {status}: the SIS is up but failing; try again later or call the vendor",
        )
    if status < 300:
        return run.add(
            "http",
            Verdict.WARN,
            f"{url} answered HTTP {status} without credentials: the roster is readable by anyone who finds "
            "the URL; ask the vendor to require authentication",
        )
    return run.add("http", Verdict.WARN, f"{url} answered HTTP {status} without credentials")


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def check_clock(run: CheckRun) -> None:
    """The server's clock (its Date header) is within a minute of ours."""
    if run.server_date is None or run.local_date is None:
        run.add(
            "clock",
            Verdict.WARN,
            "the server sent no readable Date header, so clock skew cannot be measured; OAuth timestamps and "
            "token expiry depend on both clocks being right",
        )
        return
    # The Date header has whole seconds; half a second either way is not skew.
    skew = (run.server_date - run.local_date).total_seconds()
    size = abs(round(skew))
    direction = "ahead of" if skew > 0 else "behind"
    if size <= CLOCK_WARN_SECONDS:
        run.add("clock", Verdict.PASS, f"the server's clock is within {max(size, 1)} s of ours")
        return
    verdict = Verdict.WARN
    consequence = "token expiry is computed from it"
    if run.connection.auth is SisAuth.OAUTH1:
        consequence = "OAuth 1.0a signatures carry a timestamp the server checks"
        if size > CLOCK_FAIL_SECONDS_OAUTH1:
            verdict = Verdict.FAIL
            consequence = f"OAuth 1.0a timestamps more than {CLOCK_FAIL_SECONDS_OAUTH1} s off are refused"
    run.add(
        "clock",
        verdict,
        f"the server's clock is {size} s {direction} ours: {consequence}; fix time sync (NTP) on whichever "
        "machine is wrong",
    )


def os_reason(exc: BaseException) -> str:
    """The OS error text of `exc` (e.g. "Connection refused"), else its message."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return short(exc)


def short(exc: BaseException, limit: int = 300) -> str:
    """The message of `exc` on one line, cut to `limit` characters."""
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
