"""File names, manifest properties and header orders of the OneRoster 1.1 and 1.2 CSV bindings.

Header orders follow the CSV binding tables (OneRoster 1.1 CSV Tables section 3; OneRoster 1.2 CSV
binding, tables per file). Readers match columns by name, so producers that reorder columns or append
`metadata.*` extension columns still read; writers emit exactly these orders.
"""

from __future__ import annotations

from typing import Final

from connectors.oneroster_csv.records import OneRosterVersion

SYSTEM: Final = "OneRoster CSV"
MANIFEST: Final = "manifest.csv"
MANIFEST_HEADER: Final = ("propertyName", "value")
MANIFEST_VERSION: Final = "1.0"

# Every data file each version's manifest names (`file.<name without .csv>`).
DATA_FILES: Final[dict[OneRosterVersion, tuple[str, ...]]] = {
    OneRosterVersion.V1_1: (
        "academicSessions.csv",
        "categories.csv",
        "classResources.csv",
        "classes.csv",
        "courseResources.csv",
        "courses.csv",
        "demographics.csv",
        "enrollments.csv",
        "lineItems.csv",
        "orgs.csv",
        "resources.csv",
        "results.csv",
        "users.csv",
    ),
    OneRosterVersion.V1_2: (
        "academicSessions.csv",
        "categories.csv",
        "classResources.csv",
        "classes.csv",
        "courseResources.csv",
        "courses.csv",
        "demographics.csv",
        "enrollments.csv",
        "lineItemLearningObjectiveIds.csv",
        "lineItemScoreScales.csv",
        "lineItems.csv",
        "orgs.csv",
        "resources.csv",
        "resultLearningObjectiveIds.csv",
        "resultScoreScales.csv",
        "results.csv",
        "roles.csv",
        "scoreScales.csv",
        "userProfiles.csv",
        "userResources.csv",
        "users.csv",
    ),
}

_COMMON = ("sourcedId", "status", "dateLastModified")

# Gradebook files we write, in the exact column order of each version.
GRADEBOOK_HEADERS: Final[dict[OneRosterVersion, dict[str, tuple[str, ...]]]] = {
    OneRosterVersion.V1_1: {
        "categories.csv": (*_COMMON, "title"),
        "lineItems.csv": (
            *_COMMON,
            "title",
            "description",
            "assignDate",
            "dueDate",
            "classSourcedId",
            "categorySourcedId",
            "gradingPeriodSourcedId",
            "resultValueMin",
            "resultValueMax",
        ),
        "results.csv": (
            *_COMMON,
            "lineItemSourcedId",
            "studentSourcedId",
            "scoreStatus",
            "score",
            "scoreDate",
            "comment",
        ),
    },
    OneRosterVersion.V1_2: {
        "categories.csv": (*_COMMON, "title", "weight"),
        "lineItems.csv": (
            *_COMMON,
            "title",
            "description",
            "assignDate",
            "dueDate",
            "classSourcedId",
            "categorySourcedId",
            "academicSessionSourcedId",
            "resultValueMin",
            "resultValueMax",
            "schoolSourcedId",
        ),
        "results.csv": (
            *_COMMON,
            "lineItemSourcedId",
            "studentSourcedId",
            "scoreStatus",
            "score",
            "scoreDate",
            "comment",
            "textScore",
            "classSourcedId",
            "inProgress",
            "incomplete",
            "late",
            "missing",
        ),
        "scoreScales.csv": (
            *_COMMON,
            "title",
            "type",
            "orgSourcedId",
            "courseSourcedId",
            "classSourcedId",
            "scoreScaleValue",
        ),
        "lineItemLearningObjectiveIds.csv": (*_COMMON, "lineItemSourcedId", "source", "learningObjectiveId"),
        "resultLearningObjectiveIds.csv": (
            *_COMMON,
            "resultSourcedId",
            "source",
            "learningObjectiveId",
            "score",
            "textScore",
        ),
    },
}

# Rostering files we read, in binding order. Columns whose values are optional may be left out of a
# file's header (read as empty); the others must be present.
_USERS_1_1 = (
    *_COMMON,
    "enabledUser",
    "orgSourcedIds",
    "role",
    "username",
    "userIds",
    "givenName",
    "familyName",
    "middleName",
    "identifier",
    "email",
    "sms",
    "phone",
    "agentSourcedIds",
    "grades",
    "password",
)
_USERS_1_2 = (
    *_COMMON,
    "enabledUser",
    "username",
    "userIds",
    "givenName",
    "familyName",
    "middleName",
    "identifier",
    "email",
    "sms",
    "phone",
    "agentSourcedIds",
    "grades",
    "password",
    "userMasterIdentifier",
    "resourceSourcedIds",
    "preferredGivenName",
    "preferredMiddleName",
    "preferredFamilyName",
    "primaryOrgSourcedId",
    "pronouns",
)
_SHARED_ROSTER_HEADERS: dict[str, tuple[str, ...]] = {
    "orgs.csv": (*_COMMON, "name", "type", "identifier", "parentSourcedId"),
    "academicSessions.csv": (
        *_COMMON,
        "title",
        "type",
        "startDate",
        "endDate",
        "parentSourcedId",
        "schoolYear",
    ),
    "courses.csv": (
        *_COMMON,
        "schoolYearSourcedId",
        "title",
        "courseCode",
        "grades",
        "orgSourcedId",
        "subjects",
        "subjectCodes",
    ),
    "classes.csv": (
        *_COMMON,
        "title",
        "grades",
        "courseSourcedId",
        "classCode",
        "classType",
        "location",
        "schoolSourcedId",
        "termSourcedIds",
        "subjects",
        "subjectCodes",
        "periods",
    ),
    "enrollments.csv": (
        *_COMMON,
        "classSourcedId",
        "schoolSourcedId",
        "userSourcedId",
        "role",
        "primary",
        "beginDate",
        "endDate",
    ),
    "demographics.csv": (
        *_COMMON,
        "birthDate",
        "sex",
        "americanIndianOrAlaskaNative",
        "asian",
        "blackOrAfricanAmerican",
        "nativeHawaiianOrOtherPacificIslander",
        "white",
        "demographicRaceTwoOrMoreRaces",
        "hispanicOrLatinoEthnicity",
        "countryOfBirthCode",
        "stateOfBirthAbbreviation",
        "cityOfBirth",
        "publicSchoolResidenceStatus",
    ),
}
ROSTER_HEADERS: Final[dict[OneRosterVersion, dict[str, tuple[str, ...]]]] = {
    OneRosterVersion.V1_1: {**_SHARED_ROSTER_HEADERS, "users.csv": _USERS_1_1},
    OneRosterVersion.V1_2: {**_SHARED_ROSTER_HEADERS, "users.csv": _USERS_1_2},
}

# Columns that must be filled on every row (sourcedId always; status and dateLastModified in delta files).
REQUIRED_COLUMNS: Final[dict[str, frozenset[str]]] = {
    "orgs.csv": frozenset({"sourcedId", "name", "type"}),
    "academicSessions.csv": frozenset({"sourcedId", "title", "type", "startDate", "endDate", "schoolYear"}),
    "courses.csv": frozenset({"sourcedId", "title", "orgSourcedId"}),
    "classes.csv": frozenset(
        {"sourcedId", "title", "courseSourcedId", "classType", "schoolSourcedId", "termSourcedIds"}
    ),
    "users.csv": frozenset(
        {"sourcedId", "enabledUser", "username", "givenName", "familyName", "orgSourcedIds", "role"}
    ),
    "enrollments.csv": frozenset({"sourcedId", "classSourcedId", "schoolSourcedId", "userSourcedId", "role"}),
    "demographics.csv": frozenset({"sourcedId"}),
}

# Closed and extensible vocabularies checked on read; extensible ones also accept `ext:<token>`.
ORG_TYPES: Final = frozenset({"department", "school", "district", "local", "state", "national"})
SESSION_TYPES: Final = frozenset({"gradingPeriod", "semester", "schoolYear", "term"})
CLASS_TYPES: Final = frozenset({"homeroom", "scheduled"})
ENROLLMENT_ROLES: Final = frozenset({"administrator", "proctor", "student", "teacher"})
USER_ROLES_1_1: Final = frozenset(
    {"administrator", "aide", "guardian", "parent", "proctor", "relative", "student", "teacher"}
)
SEXES: Final = frozenset({"male", "female", "unspecified", "other"})
SCORE_STATUSES: Final = frozenset(
    {"exempt", "fully graded", "not submitted", "partially graded", "submitted"}
)


def manifest_property(file_name: str) -> str:
    """The manifest.csv property naming `file_name`: "users.csv" -> "file.users"."""
    return "file." + file_name.removesuffix(".csv")
