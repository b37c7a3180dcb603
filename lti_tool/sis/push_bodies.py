"""The JSON body each gradebook PUT carries, per vendor profile and OneRoster version.

The same bodies `connectors.oneroster.gradebook.OneRosterGradebookClient` builds when it sends a record:
the outbox stores them at enqueue time so people and dry runs can read what will be sent, and
tests/integration/test_sis_push.py checks them against what the fake SIS received for every profile.
"""

from __future__ import annotations

from typing import Any

from connectors.oneroster.gradebook import GradebookRecord, put_body
from connectors.oneroster.profiles import VendorProfile
from connectors.oneroster.records import OneRosterVersion as ConnectorVersion
from connectors.oneroster_csv.payloads import ServiceUrls
from lti_tool.models import OneRosterVersion, SisConnection
from lti_tool.sis.clients import gradebook_url, rostering_url

__all__ = ["GradebookRecord", "message_body", "service_urls"]


def service_urls(connection: SisConnection) -> ServiceUrls:
    """The base URLs GUIDRef hrefs point into, as the connection's clients use them."""
    return ServiceUrls(rostering=rostering_url(connection), gradebook=gradebook_url(connection))


def message_body(
    record: GradebookRecord, *, urls: ServiceUrls, profile: VendorProfile, version: OneRosterVersion
) -> dict[str, Any]:
    """The JSON body a PUT of `record` carries for this vendor and OneRoster version.

    Exactly `connectors.oneroster.gradebook.put_body`, the one place bodies are built, so what the outbox
    stores is what the client sends (tests/integration/test_sis_push.py compares them with what the fake
    SIS received, for every profile).
    """
    return put_body(record, urls=urls, profile=profile, version=ConnectorVersion(version.value))
