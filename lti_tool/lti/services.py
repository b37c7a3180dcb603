"""LTI Advantage service plumbing: a registration's credentials and the process-wide token client.

Roster sync (NRPS) lives in `lti_tool.lti.roster_sync`, grade push (AGS) in `lti_tool.lti.grade_push`.
"""

from __future__ import annotations

import threading
from datetime import datetime

from sqlalchemy.orm import Session

from connectors.lms import AgsClient, NrpsClient, PlatformCredentials, TokenClient, Transport, new_session
from lti_tool.keys import current_signing_key
from lti_tool.models import LtiRegistration

_shared_lock = threading.Lock()
_shared: tuple[Transport, TokenClient] | None = None


def credentials_for(
    session: Session, registration: LtiRegistration, secret_key: str, *, now: datetime
) -> PlatformCredentials:
    """What the tool needs to get access tokens from `registration`'s platform, signed with its current key.

    Security Framework §4.1.1: the assertion audience is the registration's `auth_audience` when the
    platform gave one, else its token URL.
    """
    signing_key = current_signing_key(session, secret_key, now=now)
    return PlatformCredentials(
        issuer=registration.issuer,
        client_id=registration.client_id,
        token_url=registration.auth_token_url,
        private_key_pem=signing_key.private_key_pem,
        key_id=signing_key.kid,
        audience=registration.auth_audience,
    )


def _shared_transport_and_tokens() -> tuple[Transport, TokenClient]:
    # One token cache per process is the point: module state, created on first use.
    global _shared
    with _shared_lock:
        if _shared is None:
            transport = Transport(session=new_session())
            _shared = (transport, TokenClient(transport))
        return _shared


def shared_token_client() -> TokenClient:
    """The process-wide `TokenClient`: tokens are cached per registration and scope set across requests.

    A thousand score posts then cost one token request, however many clients are built for them.
    """
    return _shared_transport_and_tokens()[1]


def nrps_client(credentials: PlatformCredentials, *, tokens: TokenClient | None = None) -> NrpsClient:
    """An NRPS client on the shared transport and token cache (or on `tokens` when given)."""
    transport, shared = _shared_transport_and_tokens()
    return NrpsClient(credentials, transport=transport, tokens=tokens or shared)


def ags_client(credentials: PlatformCredentials, *, tokens: TokenClient | None = None) -> AgsClient:
    """An AGS client on the shared transport and token cache (or on `tokens` when given)."""
    transport, shared = _shared_transport_and_tokens()
    return AgsClient(credentials, transport=transport, tokens=tokens or shared)
