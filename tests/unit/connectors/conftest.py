"""Fixtures: the demo platform on loopback, a tool key it trusts, and LTI Advantage clients bound to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from joserfc.jwk import RSAKey

from connectors.lms import AgsClient, NrpsClient, PlatformCredentials, RetryPolicy, TokenClient, Transport
from connectors.lms.http import new_session
from lti_tool.demo.platform import DemoContext, PlatformConfig, PlatformServer, build_demo_roster

CLIENT_ID = "test-client"


@pytest.fixture(scope="session")
def tool_key() -> RSAKey:
    """The tool's signing key; the platform trusts its public half."""
    return RSAKey.generate_key(2048, auto_kid=True)


def make_platform_config(
    base_url: str, tool_key: RSAKey, *, student_count: int = 12, line_item_query: str | None = None
) -> PlatformConfig:
    """A demo platform config trusting `tool_key` (no tool server needed)."""
    return PlatformConfig(
        issuer=base_url,
        client_id=CLIENT_ID,
        deployment_id="dep-1",
        tool_login_url="http://tool.invalid/lti/login",
        tool_redirect_urls=("http://tool.invalid/lti/launch",),
        tool_jwks={"keys": [tool_key.as_dict(private=False)]},
        context=DemoContext(id="course-1", label="SCI-7", title="Science 7"),
        users=build_demo_roster(student_count=student_count),
        nrps_page_size=5,
        line_item_query=line_item_query,
    )


@pytest.fixture
def platform_server(tool_key: RSAKey) -> Iterator[PlatformServer]:
    """The demo platform served on 127.0.0.1 with a free port."""
    with PlatformServer(lambda base: make_platform_config(base, tool_key)) as server:
        yield server


def credentials_for(server: PlatformServer, tool_key: RSAKey) -> PlatformCredentials:
    """What the tool stores for `server`'s registration."""
    return PlatformCredentials(
        issuer=server.config.issuer,
        client_id=server.config.client_id,
        token_url=server.config.token_url,
        private_key_pem=tool_key.as_pem(private=True),
        key_id=tool_key.kid or "",
    )


class RecordingSleep:
    """An injectable sleep that records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleep() -> RecordingSleep:
    """Records retry delays."""
    return RecordingSleep()


@pytest.fixture
def transport(sleep: RecordingSleep) -> Iterator[Transport]:
    """A transport with a short timeout and recorded sleeps; its session is closed afterwards."""
    session = new_session()
    yield Transport(session=session, timeout=5.0, retry=RetryPolicy(max_retries=3), sleep=sleep)
    session.close()


@pytest.fixture
def clients(
    platform_server: PlatformServer, tool_key: RSAKey, transport: Transport
) -> tuple[NrpsClient, AgsClient, TokenClient]:
    """NRPS and AGS clients for the platform sharing one token cache."""
    credentials = credentials_for(platform_server, tool_key)
    tokens = TokenClient(transport)
    nrps = NrpsClient(credentials, transport=transport, tokens=tokens)
    ags = AgsClient(credentials, transport=transport, tokens=tokens)
    return nrps, ags, tokens
