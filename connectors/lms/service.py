"""The authorised request every LTI Advantage service call makes: bearer token, Accept, one retry on 401."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import requests

from connectors.lms.http import Transport, new_session
from connectors.lms.records import PlatformCredentials
from connectors.lms.token import TokenClient


class ServiceClient:
    """Base of the NRPS and AGS clients: one platform registration, a token client and a transport.

    When no transport is given the client makes and owns its session; call `close()` (or use it as a
    context manager) when done. A shared `TokenClient` lets several clients reuse one cached token.
    """

    def __init__(
        self,
        credentials: PlatformCredentials,
        *,
        transport: Transport | None = None,
        tokens: TokenClient | None = None,
    ) -> None:
        self._owns_session = transport is None
        self.transport = transport or Transport(session=new_session())
        self.credentials = credentials
        self.tokens = tokens or TokenClient(self.transport)

    def close(self) -> None:
        """Close the HTTP session if this client created it."""
        if self._owns_session:
            self.transport.session.close()

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _call(
        self,
        method: str,
        url: str,
        *,
        scopes: Iterable[str],
        accept: str,
        is_idempotent: bool,
        body: Mapping[str, Any] | None = None,
        content_type: str | None = None,
        params: Mapping[str, str] | None = None,
    ) -> requests.Response:
        scope_set = frozenset(scopes)
        headers = {"Accept": accept}
        if content_type is not None:
            headers["Content-Type"] = content_type
        data = json.dumps(body) if body is not None else None
        token = self.tokens.get_token(self.credentials, scope_set)
        response = self.transport.send(
            method,
            url,
            is_idempotent=is_idempotent,
            headers={**headers, "Authorization": f"Bearer {token.value}"},
            data=data,
            params=params,
        )
        if response.status_code == 401:
            # The platform may have revoked the token early; a 401 was not processed, so one retry
            # with a fresh token is safe for every method.
            response.close()
            self.tokens.invalidate(self.credentials, token)
            token = self.tokens.get_token(self.credentials, scope_set)
            response = self.transport.send(
                method,
                url,
                is_idempotent=is_idempotent,
                headers={**headers, "Authorization": f"Bearer {token.value}"},
                data=data,
                params=params,
            )
        return self.transport.check(response)
