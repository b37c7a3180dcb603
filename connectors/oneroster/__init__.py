"""OneRoster 1.1 and 1.2 REST: rostering client, gradebook client, vendor profiles, auth, paging, typed records.

Import rule: requests, authlib (in `auth` only), the standard library, `connectors.errors`,
`connectors.http` and, for the gradebook bodies, `connectors.oneroster_csv.payloads`; never Flask,
SQLAlchemy, pylti1p3 or `lti_tool`. The gradebook client and the vendor profiles are imported from their
modules (`connectors.oneroster.gradebook`, `connectors.oneroster.profiles`), not from this package, so
that `connectors.oneroster_csv` (which reads into these records) and this package never import each
other in a cycle.
"""

from connectors.oneroster.auth import (
    OAuth1Signature,
    OAuth2ClientCredentials,
    SignatureMethod,
    TokenEndpointAuthMethod,
)
from connectors.oneroster.client import (
    GRADEBOOK_PATH_V1P2,
    ROSTERING_PATH_V1P1,
    ROSTERING_PATH_V1P2,
    OneRosterClient,
    OneRosterEndpoint,
    RosterSource,
)
from connectors.oneroster.filters import Filter, Logical, Operator, Predicate, Query, modified_since, where
from connectors.oneroster.http import Authenticator, RetryPolicy, Transport, new_session
from connectors.oneroster.records import (
    AcademicSession,
    Class,
    Course,
    Demographics,
    Enrollment,
    OneRosterVersion,
    Org,
    Record,
    Status,
    User,
    UserId,
    UserRole,
)
from connectors.oneroster.status import StatusInfo, parse_status_info

__all__ = [
    "GRADEBOOK_PATH_V1P2",
    "ROSTERING_PATH_V1P1",
    "ROSTERING_PATH_V1P2",
    "AcademicSession",
    "Authenticator",
    "Class",
    "Course",
    "Demographics",
    "Enrollment",
    "Filter",
    "Logical",
    "OAuth1Signature",
    "OAuth2ClientCredentials",
    "OneRosterClient",
    "OneRosterEndpoint",
    "OneRosterVersion",
    "Operator",
    "Org",
    "Predicate",
    "Query",
    "Record",
    "RetryPolicy",
    "RosterSource",
    "SignatureMethod",
    "Status",
    "StatusInfo",
    "TokenEndpointAuthMethod",
    "Transport",
    "User",
    "UserId",
    "UserRole",
    "modified_since",
    "new_session",
    "parse_status_info",
    "where",
]
