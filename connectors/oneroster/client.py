"""`OneRosterClient`: typed reads of a district's OneRoster 1.1 or 1.2 rostering service."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

from connectors.errors import ConnectorResponseError
from connectors.oneroster.filters import Query
from connectors.oneroster.http import Transport
from connectors.oneroster.paging import fetch_pages
from connectors.oneroster.parse import (
    parse_academic_session,
    parse_class,
    parse_course,
    parse_demographics,
    parse_enrollment,
    parse_org,
    parse_user,
)
from connectors.oneroster.records import (
    AcademicSession,
    Class,
    Course,
    Demographics,
    Enrollment,
    OneRosterVersion,
    Org,
    User,
)

# The standard service paths, for whoever configures a district; the client never derives a base URL,
# because vendors put their own prefixes in front of these.
ROSTERING_PATH_V1P1 = "/ims/oneroster/v1p1"
ROSTERING_PATH_V1P2 = "/ims/oneroster/rostering/v1p2"
GRADEBOOK_PATH_V1P2 = "/ims/oneroster/gradebook/v1p2"

T = TypeVar("T")
Parser = Callable[..., T]


@dataclass(frozen=True, slots=True)
class OneRosterEndpoint:
    """Where one district's SIS answers: full base URLs as configured, and the page size to ask for."""

    version: OneRosterVersion
    rostering_url: str
    gradebook_url: str | None = None
    page_size: int = 100

    def __post_init__(self) -> None:
        if not self.rostering_url.startswith(("https://", "http://")):
            raise ValueError(f"rostering_url {self.rostering_url!r} is not an http(s) URL")
        if not 1 <= self.page_size <= 10_000:
            raise ValueError(f"page_size {self.page_size} is outside 1..10000")


class RosterSource(Protocol):
    """Something that can list a district's roster: the REST client, a CSV package (`PackageRosterSource`), a fake."""

    def fetch_orgs(self, query: Query | None = None) -> Iterator[Org]: ...
    def fetch_academic_sessions(self, query: Query | None = None) -> Iterator[AcademicSession]: ...
    def fetch_courses(self, query: Query | None = None) -> Iterator[Course]: ...
    def fetch_classes(self, query: Query | None = None) -> Iterator[Class]: ...
    def fetch_users(self, query: Query | None = None) -> Iterator[User]: ...
    def fetch_enrollments(self, query: Query | None = None) -> Iterator[Enrollment]: ...
    def fetch_demographics(self, query: Query | None = None) -> Iterator[Demographics]: ...


class OneRosterClient:
    """Reads collections and single records; yields typed records, de-duplicated by `sourcedId`.

    Records that move between pages while a pull runs can be served twice; the first copy wins.
    """

    def __init__(self, transport: Transport, endpoint: OneRosterEndpoint) -> None:
        self.transport = transport
        self.endpoint = endpoint

    def fetch_orgs(self, query: Query | None = None) -> Iterator[Org]:
        """All orgs (`GET /orgs`)."""
        return self._collection("orgs", "orgs", parse_org, query)

    def fetch_schools(self, query: Query | None = None) -> Iterator[Org]:
        """Orgs of type school (`GET /schools`)."""
        return self._collection("schools", "orgs", parse_org, query)

    def fetch_academic_sessions(self, query: Query | None = None) -> Iterator[AcademicSession]:
        """All academic sessions (`GET /academicSessions`)."""
        return self._collection("academicSessions", "academicSessions", parse_academic_session, query)

    def fetch_terms(self, query: Query | None = None) -> Iterator[AcademicSession]:
        """Academic sessions of type term (`GET /terms`)."""
        return self._collection("terms", "academicSessions", parse_academic_session, query)

    def fetch_courses(self, query: Query | None = None) -> Iterator[Course]:
        """All courses (`GET /courses`)."""
        return self._collection("courses", "courses", parse_course, query)

    def fetch_classes(self, query: Query | None = None) -> Iterator[Class]:
        """All classes (`GET /classes`)."""
        return self._collection("classes", "classes", parse_class, query)

    def fetch_users(self, query: Query | None = None) -> Iterator[User]:
        """All users (`GET /users`)."""
        return self._collection("users", "users", parse_user, query)

    def fetch_students(self, query: Query | None = None) -> Iterator[User]:
        """Users with the student role (`GET /students`)."""
        return self._collection("students", "users", parse_user, query)

    def fetch_teachers(self, query: Query | None = None) -> Iterator[User]:
        """Users with the teacher role (`GET /teachers`)."""
        return self._collection("teachers", "users", parse_user, query)

    def fetch_enrollments(self, query: Query | None = None) -> Iterator[Enrollment]:
        """All enrollments (`GET /enrollments`)."""
        return self._collection("enrollments", "enrollments", parse_enrollment, query)

    def fetch_demographics(self, query: Query | None = None) -> Iterator[Demographics]:
        """All demographics (`GET /demographics`); needs the demographics scope in 1.2."""
        return self._collection("demographics", "demographics", parse_demographics, query)

    def fetch_class_students(self, class_sourced_id: str, query: Query | None = None) -> Iterator[User]:
        """Students of one class (`GET /classes/{classSourcedId}/students`)."""
        path = f"classes/{quote(class_sourced_id, safe='')}/students"
        return self._collection(path, "users", parse_user, query)

    def get_user(self, sourced_id: str) -> User:
        """One user (`GET /users/{sourcedId}`)."""
        return self._single("users", "user", sourced_id, parse_user)

    def get_class(self, sourced_id: str) -> Class:
        """One class (`GET /classes/{sourcedId}`)."""
        return self._single("classes", "class", sourced_id, parse_class)

    def get_org(self, sourced_id: str) -> Org:
        """One org (`GET /orgs/{sourcedId}`)."""
        return self._single("orgs", "org", sourced_id, parse_org)

    def _url(self, path: str) -> str:
        return f"{self.endpoint.rostering_url.rstrip('/')}/{path}"

    def _collection(self, path: str, key: str, parse: Parser[T], query: Query | None) -> Iterator[T]:
        params = (query or Query()).params()
        seen: set[str] = set()
        pages = fetch_pages(self.transport, self._url(path), key, params, limit=self.endpoint.page_size)
        for page, items in pages:
            for item in items:
                record = self._parse(item, parse, key, page.url)
                sourced_id: str = getattr(record, "sourced_id")  # noqa: B009 - every record has one
                if sourced_id not in seen:
                    seen.add(sourced_id)
                    yield record

    def _single(self, path: str, key: str, sourced_id: str, parse: Parser[T]) -> T:
        page = self.transport.get_json(self._url(f"{path}/{quote(sourced_id, safe='')}"))
        body = page.body
        item = body.get(key) if isinstance(body, Mapping) else None
        return self._parse(item, parse, key, page.url)

    def _parse(self, item: Any, parse: Parser[T], key: str, url: str) -> T:
        if not isinstance(item, Mapping):
            raise ConnectorResponseError(
                f"{key} item is not a JSON object", system=self.transport.system, url=url
            )
        return parse(item, url=url)
