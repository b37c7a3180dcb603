"""The JSON body each gradebook PUT carries, per vendor profile and OneRoster version.

The same bodies `connectors.oneroster.gradebook.OneRosterGradebookClient` builds when it sends a record:
the outbox stores them at enqueue time so people and dry runs can read what will be sent, and
tests/integration/test_sis_push.py checks them against what the fake SIS received for every profile.
"""

from __future__ import annotations

from typing import Any

from connectors.oneroster.profiles import LetterVia, VendorProfile
from connectors.oneroster_csv.payloads import (
    GradebookCategory,
    GradebookScoreScale,
    PeriodLineItem,
    PeriodResult,
    ServiceUrls,
    category_payload,
    line_item_payload,
    result_payload,
    score_scale_payload,
)
from connectors.oneroster_csv.payloads_v1p1 import (
    category_payload_v1p1,
    line_item_payload_v1p1,
    result_payload_v1p1,
)
from lti_tool.models import OneRosterVersion, SisConnection
from lti_tool.sis.clients import gradebook_url, rostering_url

GradebookRecord = GradebookCategory | GradebookScoreScale | PeriodLineItem | PeriodResult


def service_urls(connection: SisConnection) -> ServiceUrls:
    """The base URLs GUIDRef hrefs point into, as the connection's clients use them."""
    return ServiceUrls(rostering=rostering_url(connection), gradebook=gradebook_url(connection))


def letter_placement(
    profile: VendorProfile, version: OneRosterVersion, letter: str | None
) -> tuple[str | None, dict[str, str]]:
    """(comment, metadata) carrying the letter, as `OneRosterGradebookClient.put_result` places it.

    Metadata when the profile says so; else `comment` when the profile says so or on 1.1 (no textScore).
    """
    if not letter:
        return None, {}
    if profile.letter_via is LetterVia.METADATA and profile.letter_metadata_key:
        return None, {profile.letter_metadata_key: letter}
    if profile.letter_via is LetterVia.COMMENT or version is OneRosterVersion.V1_1:
        return letter, {}
    return None, {}


def message_body(
    record: GradebookRecord, *, urls: ServiceUrls, profile: VendorProfile, version: OneRosterVersion
) -> dict[str, Any]:
    """The JSON body a PUT of `record` carries for this vendor and OneRoster version.

    The same body `connectors.oneroster.gradebook.OneRosterGradebookClient` sends for the record
    (tests/integration/test_sis_push.py compares them with what the fake SIS received).
    """
    is_v1p1 = version is OneRosterVersion.V1_1
    body: dict[str, Any]
    if isinstance(record, GradebookCategory):
        body = dict(category_payload_v1p1(record) if is_v1p1 else category_payload(record))
        body["category"]["title"] = profile.clip_category(record.title)
        return body
    if isinstance(record, GradebookScoreScale):
        if is_v1p1:
            raise ValueError(f"OneRoster 1.1 has no score scales (score scale {record.sourced_id})")
        return dict(score_scale_payload(record, urls))
    if isinstance(record, PeriodLineItem):
        metadata = profile.line_item_metadata
        body = dict(
            line_item_payload_v1p1(record, urls, metadata=metadata)
            if is_v1p1
            else line_item_payload(record, urls, metadata=metadata)
        )
        body["lineItem"]["title"] = profile.clip_title(record.title)
        return body
    comment, letter_metadata = letter_placement(profile, version, record.text_score)
    if is_v1p1:
        return dict(result_payload_v1p1(record, urls, comment=comment, metadata=letter_metadata))
    body = dict(result_payload(record, urls, metadata=letter_metadata))
    if comment:
        body["result"]["comment"] = comment
    return body
