"""String enumerations stored in the database by value (see `base.str_enum`)."""

from __future__ import annotations

from enum import StrEnum


class OrgType(StrEnum):
    """OneRoster org types the tool uses."""

    DISTRICT = "district"
    SCHOOL = "school"


class SessionType(StrEnum):
    """OneRoster academic session types, outermost first."""

    SCHOOL_YEAR = "school_year"
    SEMESTER = "semester"
    TERM = "term"
    GRADING_PERIOD = "grading_period"


class CourseLevel(StrEnum):
    """Course rigor level; weighted GPA policies key on it."""

    STANDARD = "standard"
    HONORS = "honors"
    AP = "ap"
    IB = "ib"
    DUAL = "dual"


class NcaaArea(StrEnum):
    """NCAA core-course subject area."""

    ENGLISH = "english"
    MATH = "math"
    SCIENCE = "science"
    SOCIAL_SCIENCE = "social_science"
    ADDITIONAL = "additional"


class IdentifierSource(StrEnum):
    """Where an external identifier for a person comes from."""

    LTI = "lti"
    SIS = "sis"
    EMAIL = "email"


class EnrollmentRole(StrEnum):
    """A person's role in a class (OneRoster roles, LTI context roles)."""

    STUDENT = "student"
    TEACHER = "teacher"
    TEACHING_ASSISTANT = "teaching_assistant"
    CONTENT_DEVELOPER = "content_developer"
    ADMINISTRATOR = "administrator"
    OBSERVER = "observer"


class RegistrationStatus(StrEnum):
    """Lifecycle of an LTI platform registration."""

    PENDING = "pending"
    ACTIVE = "active"
    DISABLED = "disabled"


class RegistrationSource(StrEnum):
    """How an LTI registration was created."""

    CLI = "cli"
    DYNAMIC = "dynamic"
    CANVAS = "canvas"


class FrameworkSource(StrEnum):
    """Where a competency framework was imported from."""

    CASE = "case"
    CSV = "csv"
    MANUAL = "manual"


class CompetencyKind(StrEnum):
    """Level of a node in a competency framework, outermost first."""

    GRADUATION_COMPETENCY = "graduation_competency"
    CONTENT_COMPETENCY = "content_competency"
    PERFORMANCE_INDICATOR = "performance_indicator"
    LEARNING_TARGET = "learning_target"


class AssessmentKind(StrEnum):
    """Formative (during learning) or summative (transfer) evidence and tasks."""

    FORMATIVE = "formative"
    SUMMATIVE = "summative"


class ScoreStatus(StrEnum):
    """Outcome of a demonstration; only `scored` carries a level, and nothing else is ever a zero."""

    SCORED = "scored"
    NOT_YET_DEMONSTRATED = "not_yet_demonstrated"
    MISSING = "missing"
    EXCUSED = "excused"


class EvidenceSource(StrEnum):
    """Which path recorded a piece of evidence."""

    LTI = "lti"
    IMPORT = "import"
    SIS = "sis"
    DEMO = "demo"


class Habit(StrEnum):
    """Habits of work, reported beside (never inside) the academic grade."""

    ATTENDANCE = "attendance"
    PREPAREDNESS = "preparedness"
    ENGAGEMENT = "engagement"
    PUNCTUALITY = "punctuality"
    COLLABORATION = "collaboration"


class PostedGradeStatus(StrEnum):
    """Whether a posted grade could be computed from the evidence."""

    GRADED = "graded"
    INSUFFICIENT_EVIDENCE = "insufficient_evidence"


class OneRosterVersion(StrEnum):
    """OneRoster API version spoken by an SIS connection."""

    V1_1 = "1.1"
    V1_2 = "1.2"


class SisAuth(StrEnum):
    """Authentication scheme of an SIS connection."""

    OAUTH2 = "oauth2"
    OAUTH1 = "oauth1"


class SyncKind(StrEnum):
    """A full roster pull or a delta since the previous run."""

    FULL = "full"
    DELTA = "delta"


class SyncStatus(StrEnum):
    """State of an SIS sync run."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class OutboxStatus(StrEnum):
    """Delivery state of an outbox message."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class IdentityKind(StrEnum):
    """What an identity review is about: a person or a class (LMS context vs SIS section)."""

    PERSON = "person"
    CLASS = "class"
