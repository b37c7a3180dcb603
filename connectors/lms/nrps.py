"""NRPS 2.0 client: the members of a context, across every page."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from connectors.errors import ConnectorResponseError
from connectors.lms.http import MAX_PAGES, SYSTEM, optional_str, require_object, require_str
from connectors.lms.records import (
    MEDIA_TYPE_MEMBERSHIP,
    SCOPE_NRPS_MEMBERSHIP,
    Member,
    Membership,
    MembershipContext,
)
from connectors.lms.service import ServiceClient

logger = logging.getLogger(__name__)


class NrpsClient(ServiceClient):
    """Reads context memberships (LTI Advantage NRPS 2.0)."""

    def fetch_members(self, memberships_url: str) -> list[Member]:
        """Every member of the context at `memberships_url` (the launch's `context_memberships_url`)."""
        return list(self.fetch_membership(memberships_url).members)

    def fetch_membership(self, memberships_url: str) -> Membership:
        """The context and every member, following `rel="next"` links (NRPS 2.0 §2.4.2)."""
        container_id = memberships_url
        context: MembershipContext | None = None
        members: list[Member] = []
        url: str | None = memberships_url
        seen: set[str] = set()
        while url is not None:
            if url in seen or len(seen) >= MAX_PAGES:
                raise ConnectorResponseError("pagination does not end", system=SYSTEM, url=url)
            seen.add(url)
            response = self._fetch_page(url)
            page = require_object(
                self.transport.parse_json(response), "membership container", url=memberships_url
            )
            if context is None:
                container_id = optional_str(page, "id", url=url) or memberships_url
                context = _parse_context(page.get("context"), url=url)
            raw_members = page.get("members")
            if not isinstance(raw_members, list):
                raise ConnectorResponseError("'members' is not a list", system=SYSTEM, url=url)
            members.extend(_parse_member(raw, url=url) for raw in raw_members)
            url = response.links.get("next", {}).get("url") or _body_next(page, memberships_url)
        if context is None:  # the loop always reads at least one page
            raise ConnectorResponseError("no membership page", system=SYSTEM, url=memberships_url)
        return Membership(id=container_id, context=context, members=tuple(members))

    def _fetch_page(self, url: str) -> Any:
        # NRPS 2.0 §2.2: Schoology only answers this exact media type.
        return self._call(
            "GET", url, scopes=[SCOPE_NRPS_MEMBERSHIP], accept=MEDIA_TYPE_MEMBERSHIP, is_idempotent=True
        )


def _body_next(page: Mapping[str, Any], first_url: str) -> str | None:
    """A `next` page URL some platforms put in the body instead of a Link header (NRPS 2.0 §2.4.2 wants
    the header). Followed only on the same origin: stopping after page one would make a roster sync
    deactivate everyone on the later pages."""
    candidate = page.get("next")
    if not isinstance(candidate, str) or not candidate:
        return None
    first, nxt = urlsplit(first_url), urlsplit(candidate)
    if (nxt.scheme, nxt.netloc) != (first.scheme, first.netloc):
        raise ConnectorResponseError(
            "the body's next page is on another origin", system=SYSTEM, url=first_url
        )
    logger.info("NRPS page has its next link in the body, not a Link header; following it")
    return candidate


def _parse_context(raw: object, *, url: str) -> MembershipContext:
    data = require_object(raw, "membership context", url=url)
    return MembershipContext(
        id=require_str(data, "id", url=url),
        label=optional_str(data, "label", url=url),
        title=optional_str(data, "title", url=url),
    )


def _parse_member(raw: object, *, url: str) -> Member:
    data = require_object(raw, "member", url=url)
    roles = data.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise ConnectorResponseError("member 'roles' is not a list of strings", system=SYSTEM, url=url)
    user_id = data.get("user_id")
    if isinstance(user_id, int | Decimal) and not isinstance(user_id, bool):
        user_id = str(user_id)  # some platforms send numeric ids
        data = {**data, "user_id": user_id}
    return Member(
        user_id=require_str(data, "user_id", url=url),
        roles=tuple(roles),
        status=optional_str(data, "status", url=url),
        name=optional_str(data, "name", url=url),
        given_name=optional_str(data, "given_name", url=url),
        family_name=optional_str(data, "family_name", url=url),
        email=optional_str(data, "email", url=url),
        lis_person_sourcedid=optional_str(data, "lis_person_sourcedid", url=url),
    )
