"""LTI Advantage service clients (token, NRPS 2.0, AGS 2.0), their role protocols and in-memory fakes.

Import rule: requests, joserfc/authlib, cryptography, the standard library and `connectors.errors`
only; never Flask, SQLAlchemy, pylti1p3 or `lti_tool`.
"""

from connectors.lms.ags import AgsClient, format_timestamp, service_url
from connectors.lms.fakes import FakeGradeBook, FakeMembershipSource
from connectors.lms.http import RetryPolicy, Transport, new_session, user_agent
from connectors.lms.nrps import NrpsClient
from connectors.lms.records import (
    SCOPE_AGS_LINE_ITEM,
    SCOPE_AGS_LINE_ITEM_READONLY,
    SCOPE_AGS_RESULT_READONLY,
    SCOPE_AGS_SCORE,
    SCOPE_NRPS_MEMBERSHIP,
    LineItem,
    Member,
    Membership,
    MembershipContext,
    PlatformCredentials,
    Result,
    Score,
    canvas_submission_extension,
)
from connectors.lms.roles import LineItemStore, MembershipSource, ScoreSink
from connectors.lms.token import AccessToken, TokenClient

__all__ = [
    "SCOPE_AGS_LINE_ITEM",
    "SCOPE_AGS_LINE_ITEM_READONLY",
    "SCOPE_AGS_RESULT_READONLY",
    "SCOPE_AGS_SCORE",
    "SCOPE_NRPS_MEMBERSHIP",
    "AccessToken",
    "AgsClient",
    "FakeGradeBook",
    "FakeMembershipSource",
    "LineItem",
    "LineItemStore",
    "Member",
    "Membership",
    "MembershipContext",
    "MembershipSource",
    "NrpsClient",
    "PlatformCredentials",
    "Result",
    "RetryPolicy",
    "Score",
    "ScoreSink",
    "TokenClient",
    "Transport",
    "canvas_submission_extension",
    "format_timestamp",
    "new_session",
    "service_url",
    "user_agent",
]
