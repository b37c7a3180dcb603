"""Read a OneRoster 1.1 or 1.2 CSV zip (manifest.csv plus bulk or delta data files) into typed records.

The whole zip is parsed before anything is returned, so a bad cell means an error and no records at all.
Every error is a `FormatError` whose `item` names the file inside the zip and the line, and whose `field`
names the column.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import TypeVar

from connectors.errors import FormatError
from connectors.oneroster_csv.binding import (
    CLASS_TYPES,
    DATA_FILES,
    ENROLLMENT_ROLES,
    MANIFEST,
    MANIFEST_HEADER,
    MANIFEST_VERSION,
    ORG_TYPES,
    REQUIRED_COLUMNS,
    ROSTER_HEADERS,
    SESSION_TYPES,
    SEXES,
    SYSTEM,
    USER_ROLES_1_1,
    manifest_property,
)
from connectors.oneroster_csv.records import (
    AcademicSession,
    Course,
    Demographics,
    Enrollment,
    FileMode,
    Manifest,
    OneRosterVersion,
    Org,
    RosterClass,
    RosterPackage,
    Status,
    User,
    UserId,
)

T = TypeVar("T")

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_YEAR = re.compile(r"\d{4}")
_USER_ID = re.compile(r"\{([^:{}]+):([^{}]*)\}")
_EXTENSION = re.compile(r"ext:[A-Za-z0-9.\-_]+")
# Larger than any real roster file; stops a zip bomb from being inflated into memory.
MAX_FILE_BYTES = 200 * 1024 * 1024


def _error(message: str, *, file: str, line: int | None = None, column: str | None = None) -> FormatError:
    item = file if line is None else f"{file} line {line}"
    where = item if column is None else f"{item}, column {column}"
    return FormatError(f"{where}: {message}", system=SYSTEM, item=item, field=column)


def _decode(raw: bytes, file: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _error(f"is not UTF-8 text (byte {exc.start})", file=file) from exc


def _records(text: str, file: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each non-blank record, the header included; line numbers are physical lines."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                yield start, cells
            start = reader.line_num + 1
    except csv.Error as exc:
        raise _error(f"is not valid CSV ({exc})", file=file, line=reader.line_num) from exc


class _Row:
    """One data row with typed accessors that raise errors naming file, line and column."""

    def __init__(self, file: str, line: int, cells: dict[str, str], mode: FileMode) -> None:
        self.file = file
        self.line = line
        self.cells = cells
        self.mode = mode

    def fail(self, column: str, message: str) -> FormatError:
        return _error(message, file=self.file, line=self.line, column=column)

    def text(self, column: str) -> str | None:
        return self.cells.get(column, "").strip() or None

    def required(self, column: str) -> str:
        value = self.text(column)
        if value is None:
            raise self.fail(column, "is empty")
        return value

    def items(self, column: str) -> tuple[str, ...]:
        value = self.text(column)
        return tuple(part.strip() for part in value.split(",") if part.strip()) if value else ()

    def required_items(self, column: str) -> tuple[str, ...]:
        values = self.items(column)
        if not values:
            raise self.fail(column, "is empty")
        return values

    def boolean(self, column: str) -> bool | None:
        value = self.text(column)
        if value is None:
            return None
        if value.lower() not in {"true", "false"}:
            raise self.fail(column, f"{value!r} is not true or false")
        return value.lower() == "true"

    def day(self, column: str) -> date | None:
        value = self.text(column)
        if value is None:
            return None
        try:
            if not _DATE.fullmatch(value):
                raise ValueError(value)
            return date.fromisoformat(value)
        except ValueError:
            raise self.fail(column, f"{value!r} is not a date YYYY-MM-DD") from None

    def required_day(self, column: str) -> date:
        value = self.day(column)
        if value is None:
            raise self.fail(column, "is empty")
        return value

    def vocabulary(self, column: str, allowed: frozenset[str], *, extensible: bool = True) -> str | None:
        value = self.text(column)
        if value is None or value in allowed or (extensible and _EXTENSION.fullmatch(value)):
            return value
        raise self.fail(column, f"{value!r} is not one of {', '.join(sorted(allowed))}")

    def required_vocabulary(self, column: str, allowed: frozenset[str], *, extensible: bool = True) -> str:
        value = self.required(column)
        if value in allowed or (extensible and _EXTENSION.fullmatch(value)):
            return value
        raise self.fail(column, f"{value!r} is not one of {', '.join(sorted(allowed))}")

    def status(self) -> Status | None:
        value = self.text("status")
        if value is None:
            if self.mode is FileMode.DELTA:
                raise self.fail("status", "is empty (required in a delta file)")
            return None
        if value == "inactive":
            return Status.TO_BE_DELETED
        try:
            return Status(value)
        except ValueError:
            raise self.fail("status", f"{value!r} is not active or tobedeleted") from None

    def date_last_modified(self) -> datetime | None:
        value = self.text("dateLastModified")
        if value is None:
            if self.mode is FileMode.DELTA:
                raise self.fail("dateLastModified", "is empty (required in a delta file)")
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None or "T" not in value:
            raise self.fail("dateLastModified", f"{value!r} is not an ISO 8601 date-time with a UTC offset")
        return parsed

    def user_ids(self, column: str) -> tuple[UserId, ...]:
        found: list[UserId] = []
        for part in re.split(r",(?=\s*\{)", self.text(column) or ""):
            if not part.strip():
                continue
            match = _USER_ID.fullmatch(part.strip())
            if match is None:
                raise self.fail(column, f"{part.strip()!r} is not {{type:identifier}}")
            found.append(UserId(type=match.group(1).strip(), identifier=match.group(2).strip()))
        return tuple(found)


def _org(row: _Row) -> Org:
    return Org(
        sourced_id=row.required("sourcedId"),
        status=row.status(),
        date_last_modified=row.date_last_modified(),
        name=row.required("name"),
        type=row.required_vocabulary("type", ORG_TYPES),
        identifier=row.text("identifier"),
        parent_sourced_id=row.text("parentSourcedId"),
    )


def _academic_session(row: _Row) -> AcademicSession:
    school_year = row.required("schoolYear")
    if not _YEAR.fullmatch(school_year):
        raise row.fail("schoolYear", f"{school_year!r} is not a four-digit year")
    start, end = row.required_day("startDate"), row.required_day("endDate")
    if end < start:
        raise row.fail("endDate", f"{end} is before startDate {start}")
    return AcademicSession(
        sourced_id=row.required("sourcedId"),
        status=row.status(),
        date_last_modified=row.date_last_modified(),
        title=row.required("title"),
        type=row.required_vocabulary("type", SESSION_TYPES),
        start_date=start,
        end_date=end,
        parent_sourced_id=row.text("parentSourcedId"),
        school_year=school_year,
    )


def _course(row: _Row) -> Course:
    return Course(
        sourced_id=row.required("sourcedId"),
        status=row.status(),
        date_last_modified=row.date_last_modified(),
        school_year_sourced_id=row.text("schoolYearSourcedId"),
        title=row.required("title"),
        course_code=row.text("courseCode"),
        grades=row.items("grades"),
        org_sourced_id=row.required("orgSourcedId"),
        subjects=row.items("subjects"),
        subject_codes=row.items("subjectCodes"),
    )


def _class(row: _Row) -> RosterClass:
    return RosterClass(
        sourced_id=row.required("sourcedId"),
        status=row.status(),
        date_last_modified=row.date_last_modified(),
        title=row.required("title"),
        grades=row.items("grades"),
        course_sourced_id=row.required("courseSourcedId"),
        class_code=row.text("classCode"),
        class_type=row.required_vocabulary("classType", CLASS_TYPES),
        location=row.text("location"),
        school_sourced_id=row.required("schoolSourcedId"),
        term_sourced_ids=row.required_items("termSourcedIds"),
        subjects=row.items("subjects"),
        subject_codes=row.items("subjectCodes"),
        periods=row.items("periods"),
    )


def _user(version: OneRosterVersion) -> Callable[[_Row], User]:
    def build(row: _Row) -> User:
        enabled = row.boolean("enabledUser")
        if enabled is None:
            raise row.fail("enabledUser", "is empty")
        is_1_1 = version is OneRosterVersion.V1_1
        return User(
            sourced_id=row.required("sourcedId"),
            status=row.status(),
            date_last_modified=row.date_last_modified(),
            enabled_user=enabled,
            username=row.required("username"),
            user_ids=row.user_ids("userIds"),
            given_name=row.required("givenName"),
            family_name=row.required("familyName"),
            middle_name=row.text("middleName"),
            identifier=row.text("identifier"),
            email=row.text("email"),
            sms=row.text("sms"),
            phone=row.text("phone"),
            agent_sourced_ids=row.items("agentSourcedIds"),
            grades=row.items("grades"),
            org_sourced_ids=row.required_items("orgSourcedIds") if is_1_1 else (),
            role=row.required_vocabulary("role", USER_ROLES_1_1, extensible=False) if is_1_1 else None,
            user_master_identifier=row.text("userMasterIdentifier"),
            preferred_given_name=row.text("preferredGivenName"),
            preferred_middle_name=row.text("preferredMiddleName"),
            preferred_family_name=row.text("preferredFamilyName"),
            primary_org_sourced_id=row.text("primaryOrgSourcedId"),
            pronouns=row.text("pronouns"),
        )

    return build


def _enrollment(row: _Row) -> Enrollment:
    begin, end = row.day("beginDate"), row.day("endDate")
    if begin is not None and end is not None and end < begin:
        raise row.fail("endDate", f"{end} is before beginDate {begin}")
    return Enrollment(
        sourced_id=row.required("sourcedId"),
        status=row.status(),
        date_last_modified=row.date_last_modified(),
        class_sourced_id=row.required("classSourcedId"),
        school_sourced_id=row.required("schoolSourcedId"),
        user_sourced_id=row.required("userSourcedId"),
        role=row.required_vocabulary("role", ENROLLMENT_ROLES),
        primary=row.boolean("primary"),
        begin_date=begin,
        end_date=end,
    )


def _demographics(row: _Row) -> Demographics:
    return Demographics(
        sourced_id=row.required("sourcedId"),
        status=row.status(),
        date_last_modified=row.date_last_modified(),
        birth_date=row.day("birthDate"),
        sex=row.vocabulary("sex", SEXES, extensible=False),
        american_indian_or_alaska_native=row.boolean("americanIndianOrAlaskaNative"),
        asian=row.boolean("asian"),
        black_or_african_american=row.boolean("blackOrAfricanAmerican"),
        native_hawaiian_or_other_pacific_islander=row.boolean("nativeHawaiianOrOtherPacificIslander"),
        white=row.boolean("white"),
        demographic_race_two_or_more_races=row.boolean("demographicRaceTwoOrMoreRaces"),
        hispanic_or_latino_ethnicity=row.boolean("hispanicOrLatinoEthnicity"),
        country_of_birth_code=row.text("countryOfBirthCode"),
        state_of_birth_abbreviation=row.text("stateOfBirthAbbreviation"),
        city_of_birth=row.text("cityOfBirth"),
        public_school_residence_status=row.text("publicSchoolResidenceStatus"),
    )


def _read_member(archive: zipfile.ZipFile, name: str) -> str:
    info = archive.getinfo(name)
    if info.file_size > MAX_FILE_BYTES:
        raise _error(f"is larger than {MAX_FILE_BYTES} bytes uncompressed", file=name)
    try:
        raw = archive.read(info)
    except (zipfile.BadZipFile, OSError, RuntimeError) as exc:
        raise _error(f"cannot be extracted ({exc})", file=name) from exc
    return _decode(raw, name)


def _parse_manifest(text: str) -> Manifest:
    records = list(_records(text, MANIFEST))
    if not records or tuple(cell.strip() for cell in records[0][1]) != MANIFEST_HEADER:
        raise _error("header must be propertyName,value", file=MANIFEST, line=1, column="propertyName")
    properties: dict[str, tuple[int, str]] = {}
    for number, cells in records[1:]:
        if len(cells) != 2:
            raise _error(f"has {len(cells)} cells, expected 2", file=MANIFEST, line=number)
        name, value = cells[0].strip(), cells[1].strip()
        if name in properties:
            raise _error(f"repeats property {name!r}", file=MANIFEST, line=number, column="propertyName")
        properties[name] = (number, value)

    def value_of(name: str) -> tuple[int | None, str | None]:
        line, value = properties.get(name, (None, None))
        return line, value

    line, manifest_version = value_of("manifest.version")
    if manifest_version != MANIFEST_VERSION:
        raise _error(
            f"manifest.version is {manifest_version!r}, expected {MANIFEST_VERSION!r}",
            file=MANIFEST,
            line=line,
            column="value",
        )
    line, declared = value_of("oneroster.version")
    try:
        version = OneRosterVersion(declared or "")
    except ValueError:
        raise _error(
            f"oneroster.version is {declared!r}, expected 1.1 or 1.2",
            file=MANIFEST,
            line=line,
            column="value",
        ) from None
    files: list[tuple[str, FileMode]] = []
    for file_name in DATA_FILES[version]:
        line, mode = value_of(manifest_property(file_name))
        try:
            files.append((file_name, FileMode(mode or "absent")))
        except ValueError:
            raise _error(
                f"{manifest_property(file_name)} is {mode!r}, expected absent, bulk or delta",
                file=MANIFEST,
                line=line,
                column="value",
            ) from None
    return Manifest(
        manifest_version=MANIFEST_VERSION,
        oneroster_version=version,
        files=tuple(sorted(files)),
        source_system_name=value_of("source.systemName")[1] or None,
        source_system_code=value_of("source.systemCode")[1] or None,
    )


def _parse_file(
    text: str, file: str, *, version: OneRosterVersion, mode: FileMode, build: Callable[[_Row], T]
) -> tuple[T, ...]:
    records = _records(text, file)
    first = next(records, None)
    if first is None:
        raise _error("is empty (expected a header row)", file=file, line=1)
    header = [cell.strip() for cell in first[1]]
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise _error("header repeats a column", file=file, line=1, column=duplicates[0])
    known = ROSTER_HEADERS[version][file]
    needed = set(REQUIRED_COLUMNS[file])
    if mode is FileMode.DELTA:
        needed |= {"status", "dateLastModified"}
    missing = [name for name in known if name in needed and name not in header]
    if missing:
        raise _error(
            f"header lacks required column(s) {', '.join(missing)}", file=file, line=1, column=missing[0]
        )
    built: list[T] = []
    seen: dict[str, int] = {}
    for line, cells in records:
        if len(cells) != len(header):
            raise _error(f"has {len(cells)} cells, the header has {len(header)}", file=file, line=line)
        row = _Row(file, line, dict(zip(header, cells, strict=True)), mode)
        sourced_id = row.required("sourcedId")
        if sourced_id in seen:
            raise row.fail("sourcedId", f"{sourced_id!r} repeats line {seen[sourced_id]}")
        seen[sourced_id] = line
        built.append(build(row))
    return tuple(built)


def read_roster_zip(content: bytes) -> RosterPackage:
    """The manifest and rostering records of a OneRoster 1.1 or 1.2 CSV zip.

    Reads orgs, academicSessions, courses, classes, users, enrollments and demographics; other files the
    manifest lists (gradebook, resources, 1.2 roles) are ignored here. A file the manifest marks bulk or
    delta must be in the zip; one marked absent is ignored even if present.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile as exc:
        raise _error(f"is not a zip archive ({exc})", file="zip") from exc
    with archive:
        names = set(archive.namelist())
        if MANIFEST not in names:
            raise _error("is missing from the zip (it must be at the top level)", file=MANIFEST)
        manifest = _parse_manifest(_read_member(archive, MANIFEST))
        version = manifest.oneroster_version

        def load(file: str, build: Callable[[_Row], T]) -> tuple[T, ...]:
            mode = manifest.mode(file)
            if mode is FileMode.ABSENT:
                return ()
            if file not in names:
                raise _error(f"is declared {mode.value} in manifest.csv but missing from the zip", file=file)
            text = _read_member(archive, file)
            return _parse_file(text, file, version=version, mode=mode, build=build)

        return RosterPackage(
            manifest=manifest,
            orgs=load("orgs.csv", _org),
            academic_sessions=load("academicSessions.csv", _academic_session),
            courses=load("courses.csv", _course),
            classes=load("classes.csv", _class),
            users=load("users.csv", _user(version)),
            enrollments=load("enrollments.csv", _enrollment),
            demographics=load("demographics.csv", _demographics),
        )
