"""`sis test`: check one SIS connection step by step, each step a verdict with a reason that names the fix.

Order: the host name resolves (DNS), something accepts a TCP connection, TLS verifies (https), the OneRoster
path answers HTTP, the server's clock agrees with ours (from its `Date` header), authentication works
(an OAuth 2 token, or an OAuth 1.0a signed request), the scopes each job needs are granted, and one sample
page each of `orgs` and `users` reads as OneRoster records. A step that cannot run because an earlier
one failed is `skip`, saying which.

Reasons name hosts, ports, URLs, scope names and counts; never the secret, and never a person's data.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from connectors.errors import ConnectorAuthError, ConnectorError, ConnectorResponseError
from connectors.oneroster.http import Page, Transport, new_session
from connectors.oneroster.paging import fetch_pages
from connectors.oneroster.parse import parse_org, parse_user
from lti_tool.models import SisAuth, SisConnection
from lti_tool.sis.check_results import (
    CHECK_RETRY,
    DEFAULT_TIMEOUT,
    CheckResult,
    CheckRun,
    Clock,
    ConnectionCheck,
    Verdict,
    utcnow,
)
from lti_tool.sis.checks_network import (
    check_clock,
    check_dns,
    check_http,
    check_tcp,
    check_tls,
    short,
)
from lti_tool.sis.clients import (
    build_authenticator,
    rostering_url,
    scope_sets,
    signature_method,
    token_auth_method,
)
from lti_tool.sis.connection_rules import connection_options, validate_profile

if TYPE_CHECKING:
    from lti_tool.settings import Settings

__all__ = ["CheckResult", "ConnectionCheck", "Verdict", "check_connection"]


def check_connection(
    connection: SisConnection,
    *,
    secret_key: Settings | str,
    timeout: float = DEFAULT_TIMEOUT,
    clock: Clock = utcnow,
) -> ConnectionCheck:
    """Run every check against `connection`; never raises for what the SIS does (it becomes a verdict)."""
    run = CheckRun(connection, validate_profile(connection.profile), secret_key, timeout, clock)
    url = urlsplit(rostering_url(connection))
    host = url.hostname or ""
    port = url.port or (443 if url.scheme == "https" else 80)
    later = ("http", "clock", "auth", "scopes", "orgs", "users")
    if check_dns(run, host, port) is Verdict.FAIL:
        run.skip(("tcp", "tls", *later), f"{host} does not resolve")
    elif check_tcp(run, host, port) is Verdict.FAIL:
        run.skip(("tls", *later), f"nothing answers on {host}:{port}")
    elif check_tls(run, url.scheme, host, port) is Verdict.FAIL:
        run.skip(later, "TLS failed")
    elif check_http(run) is Verdict.FAIL:
        check_clock(run)
        run.skip(("auth", "scopes", "orgs", "users"), "the OneRoster service did not answer as expected")
    else:
        check_clock(run)
        if _check_auth(run) is Verdict.FAIL:
            run.skip(("scopes", "orgs", "users"), "authentication failed")
        else:
            _check_scopes(run)
            _check_sample(run, "orgs")
            _check_sample(run, "users")
    return ConnectionCheck(connection.name, clock(), tuple(run.results))


# -- authentication and scopes --------------------------------------------------------------------------------


def _transport(run: CheckRun, scopes: Sequence[str]) -> Transport:
    return Transport(
        session=new_session(),
        authenticator=build_authenticator(
            run.connection, secret_key=run.secret_key, scopes=scopes, profile=run.profile
        ),
        timeout=run.timeout,
        retry=CHECK_RETRY,
        system=f"oneroster:{run.connection.name}",
    )


def _token_problem(run: CheckRun, scopes: Sequence[str]) -> ConnectorError | None:
    """None when the token endpoint issues a token for `scopes`, else the error it caused."""
    transport = _transport(run, scopes)
    try:
        transport.authenticator.auth(transport.session)
    except ConnectorError as exc:
        return exc
    finally:
        transport.session.close()
    return None


def _is_scope_refusal(error: ConnectorError) -> bool:
    # RFC 6749 §5.2 error code for a scope the client may not have.
    return "invalid_scope" in str(error)


def _check_auth(run: CheckRun) -> Verdict:
    connection = run.connection
    if connection.auth is SisAuth.OAUTH1:
        return _check_oauth1(run)
    options = connection_options(connection)
    roster = scope_sets(connection, run.profile).roster
    problem = _token_problem(run, roster)
    if problem is None:
        return run.add(
            "auth", Verdict.PASS, f"the token endpoint issued a token to client {connection.client_id!r}"
        )
    if _is_scope_refusal(problem):
        return run.add(
            "auth",
            Verdict.WARN,
            "the token endpoint accepted the client but refused the roster scopes (see the scopes check)",
        )
    if isinstance(problem, ConnectorAuthError):
        return run.add(
            "auth",
            Verdict.FAIL,
            f"the token endpoint {options.token_url} refused client {connection.client_id!r} "
            f"({short(problem)}): check the client id and secret (`mastery-bridge sis update "
            f"{connection.name} --rotate-secret`), and the token auth method "
            f"({_auth_method_name(run)}; the vendor may want the other one)",
        )
    return run.add("auth", Verdict.FAIL, f"no token from {options.token_url}: {short(problem)}")


def _auth_method_name(run: CheckRun) -> str:
    return token_auth_method(run.connection, run.profile).value


def _check_oauth1(run: CheckRun) -> Verdict:
    transport = _transport(run, ())
    url = f"{rostering_url(run.connection)}/orgs?limit=1"
    try:
        transport.get_json(url)
    except ConnectorAuthError as exc:
        method = signature_method(run.connection, run.profile).value
        return run.add(
            "auth",
            Verdict.FAIL,
            f"the SIS refused the OAuth 1.0a signature ({short(exc)}): check the client id and secret, the "
            f"signature method ({method}; the vendor may want the other HMAC), and the clocks",
        )
    except ConnectorError as exc:
        return run.add("auth", Verdict.FAIL, f"signed GET {url} failed: {short(exc)}")
    finally:
        transport.session.close()
    return run.add(
        "auth", Verdict.PASS, f"a signed request as client {run.connection.client_id!r} was accepted"
    )


def _refused(run: CheckRun, scopes: Sequence[str]) -> list[str]:
    """The scopes of `scopes` the token endpoint will not grant (probed one by one when the set fails)."""
    problem = _token_problem(run, scopes)
    if problem is None:
        return []
    if not _is_scope_refusal(problem) or len(scopes) == 1:
        return list(scopes)
    return [scope for scope in scopes if _token_problem(run, (scope,)) is not None]


def _check_scopes(run: CheckRun) -> None:
    connection = run.connection
    if connection.auth is SisAuth.OAUTH1:
        run.add("scopes", Verdict.PASS, "not applicable: OAuth 1.0a has no scopes")
        return
    sets = scope_sets(connection, run.profile)
    needs = [("roster sync", sets.roster, Verdict.FAIL)]
    if connection_options(connection).include_demographics:
        needs.append(("demographics", sets.demographics, Verdict.FAIL))
    needs.append(("grade push", sets.gradebook, Verdict.WARN))
    problems: list[tuple[Verdict, str]] = []
    granted = 0
    for job, scopes, severity in needs:
        if not scopes:
            problems.append((Verdict.WARN, f"no scope is configured for {job}"))
            continue
        refused = _refused(run, scopes)
        granted += len(scopes) - len(refused)
        if refused:
            problems.append((severity, f"{job} needs {', '.join(refused)}, which the SIS does not grant"))
    if not problems:
        run.add(
            "scopes", Verdict.PASS, f"all {granted} scopes needed for roster sync and grade push are granted"
        )
        return
    verdict = Verdict.FAIL if any(v is Verdict.FAIL for v, _ in problems) else Verdict.WARN
    run.add(
        "scopes",
        verdict,
        "; ".join(text for _, text in problems)
        + f": ask the vendor to grant them to client {connection.client_id!r}, or set the vendor's spelling "
        f"with `mastery-bridge sis update {connection.name} --scope ...`",
    )


# -- sample pages ---------------------------------------------------------------------------------------------


def _first_page(transport: Transport, url: str, key: str) -> tuple[Page, list[Any]]:
    pages = fetch_pages(transport, url, key, {}, limit=1)
    try:
        return next(pages)
    finally:
        if isinstance(pages, Generator):
            pages.close()


def _check_sample(run: CheckRun, key: str) -> None:
    connection = run.connection
    parse = parse_org if key == "orgs" else parse_user
    url = f"{rostering_url(connection)}/{key}"
    transport = _transport(run, scope_sets(connection, run.profile).roster)
    try:
        page, items = _first_page(transport, url, key)
        for item in items:
            if not isinstance(item, dict):
                run.add(key, Verdict.FAIL, f"{url}: the first {key} item is not a JSON object")
                return
            parse(item, url=page.url)
    except ConnectorError as exc:
        hint = ""
        if isinstance(exc, ConnectorAuthError):
            hint = ": the token does not open this collection; check the roster scopes"
        elif isinstance(exc, ConnectorResponseError) and exc.status is None:
            hint = f": the records do not read as OneRoster {connection.version.value}; is the version right?"
        run.add(key, Verdict.FAIL, f"{short(exc)}{hint}")
        return
    finally:
        transport.session.close()
    if not items:
        run.add(
            key,
            Verdict.WARN,
            f"the SIS returned no {key}: the client may not be granted any schools; ask the vendor which orgs "
            f"client {connection.client_id!r} may read",
        )
        return
    total = f" of {page.total_count}" if page.total_count is not None else ""
    run.add(
        key, Verdict.PASS, f"read {len(items)}{total} {key} as OneRoster {connection.version.value} records"
    )
