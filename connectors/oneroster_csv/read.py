"""Read a OneRoster 1.1 or 1.2 CSV zip (manifest.csv plus bulk or delta data files) into typed records.

Rows become the same `connectors.oneroster.records` types the REST client yields. Bulk files may leave
`status` and `dateLastModified` blank (CSV binding §2.1): a blank status reads as `active` and a blank
timestamp as the time the package was received. The whole zip is parsed before anything is returned, so
a bad cell means an error and no records at all. Every error is a `FormatError` whose `item` names the
file inside the zip and the line, and whose `field` names the column.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from connectors.oneroster.records import (
    AcademicSession,
    Class,
    Course,
    Demographics,
    Enrollment,
    OneRosterVersion,
    Org,
    User,
    UserRole,
)
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
    USER_ROLES_1_1,
    manifest_property,
)
from connectors.oneroster_csv.records import FileMode, Manifest, RosterPackage
from connectors.oneroster_csv.rows import Row, csv_records, decode_text, format_error

T = TypeVar("T")

_YEAR = re.compile(r"\d{4}")
# Larger than any real roster file; stops a zip bomb from being inflated into memory.
MAX_FILE_BYTES = 200 * 1024 * 1024


def _org(row: Row) -> Org:
    return Org(
        sourced_id=row.required("sourcedId"),
        status=row.status(),
        date_last_modified=row.date_last_modified(),
        name=row.required("name"),
        type=row.required_vocabulary("type", ORG_TYPES),
        identifier=row.text("identifier"),
        parent_sourced_id=row.text("parentSourcedId"),
    )


def _academic_session(row: Row) -> AcademicSession:
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


def _course(row: Row) -> Course:
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


def _class(row: Row) -> Class:
    return Class(
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


def _user(version: OneRosterVersion) -> Callable[[Row], User]:
    def build(row: Row) -> User:
        enabled = row.boolean("enabledUser")
        if enabled is None:
            raise row.fail("enabledUser", "is empty")
        is_1_1 = version is OneRosterVersion.V1P1
        roles: tuple[UserRole, ...] = ()
        if is_1_1:
            # 1.1 users hold one role in every org they list; 1.2 moved roles to roles.csv (not read here).
            role = row.required_vocabulary("role", USER_ROLES_1_1, extensible=False)
            roles = tuple(
                UserRole(role=role, org_sourced_id=org) for org in row.required_items("orgSourcedIds")
            )
        return User(
            sourced_id=row.required("sourcedId"),
            status=row.status(),
            date_last_modified=row.date_last_modified(),
            is_enabled=enabled,
            roles=roles,
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
            user_master_identifier=row.text("userMasterIdentifier"),
            preferred_given_name=row.text("preferredGivenName"),
            preferred_middle_name=row.text("preferredMiddleName"),
            preferred_family_name=row.text("preferredFamilyName"),
            primary_org_sourced_id=row.text("primaryOrgSourcedId"),
            pronouns=row.text("pronouns"),
        )

    return build


def _enrollment(row: Row) -> Enrollment:
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
        is_primary=row.boolean("primary"),
        begin_date=begin,
        end_date=end,
    )


def _demographics(row: Row) -> Demographics:
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
        raise format_error(f"is larger than {MAX_FILE_BYTES} bytes uncompressed", file=name)
    try:
        raw = archive.read(info)
    except (zipfile.BadZipFile, OSError, RuntimeError) as exc:
        raise format_error(f"cannot be extracted ({exc})", file=name) from exc
    return decode_text(raw, name)


def _parse_manifest(text: str) -> Manifest:
    records = list(csv_records(text, MANIFEST))
    if not records or tuple(cell.strip() for cell in records[0][1]) != MANIFEST_HEADER:
        raise format_error("header must be propertyName,value", file=MANIFEST, line=1, column="propertyName")
    properties: dict[str, tuple[int, str]] = {}
    for number, cells in records[1:]:
        if len(cells) != 2:
            raise format_error(f"has {len(cells)} cells, expected 2", file=MANIFEST, line=number)
        name, value = cells[0].strip(), cells[1].strip()
        if name in properties:
            raise format_error(
                f"repeats property {name!r}", file=MANIFEST, line=number, column="propertyName"
            )
        properties[name] = (number, value)

    def value_of(name: str) -> tuple[int | None, str | None]:
        line, value = properties.get(name, (None, None))
        return line, value

    line, manifest_version = value_of("manifest.version")
    if manifest_version != MANIFEST_VERSION:
        raise format_error(
            f"manifest.version is {manifest_version!r}, expected {MANIFEST_VERSION!r}",
            file=MANIFEST,
            line=line,
            column="value",
        )
    line, declared = value_of("oneroster.version")
    try:
        version = OneRosterVersion(declared or "")
    except ValueError:
        raise format_error(
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
            raise format_error(
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
    text: str,
    file: str,
    *,
    version: OneRosterVersion,
    mode: FileMode,
    build: Callable[[Row], T],
    received_at: datetime,
) -> tuple[T, ...]:
    records = csv_records(text, file)
    first = next(records, None)
    if first is None:
        raise format_error("is empty (expected a header row)", file=file, line=1)
    header = [cell.strip() for cell in first[1]]
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise format_error("header repeats a column", file=file, line=1, column=duplicates[0])
    known = ROSTER_HEADERS[version][file]
    needed = set(REQUIRED_COLUMNS[file])
    if mode is FileMode.DELTA:
        needed |= {"status", "dateLastModified"}
    missing = [name for name in known if name in needed and name not in header]
    if missing:
        raise format_error(
            f"header lacks required column(s) {', '.join(missing)}", file=file, line=1, column=missing[0]
        )
    built: list[T] = []
    seen: dict[str, int] = {}
    for line, cells in records:
        if len(cells) != len(header):
            raise format_error(f"has {len(cells)} cells, the header has {len(header)}", file=file, line=line)
        row = Row(file, line, dict(zip(header, cells, strict=True)), mode, received_at)
        sourced_id = row.required("sourcedId")
        if sourced_id in seen:
            raise row.fail("sourcedId", f"{sourced_id!r} repeats line {seen[sourced_id]}")
        seen[sourced_id] = line
        built.append(build(row))
    return tuple(built)


def read_roster_zip(content: bytes, *, received_at: datetime | None = None) -> RosterPackage:
    """The manifest and rostering records of a OneRoster 1.1 or 1.2 CSV zip.

    Reads orgs, academicSessions, courses, classes, users, enrollments and demographics; other files the
    manifest lists (gradebook, resources, 1.2 roles) are ignored here. A file the manifest marks bulk or
    delta must be in the zip; one marked absent is ignored even if present. `received_at` (default: now)
    stands in for a blank `dateLastModified` in a bulk file.
    """
    if received_at is None:
        received_at = datetime.now(UTC)
    elif received_at.tzinfo is None:
        raise ValueError(f"received_at {received_at.isoformat()} has no time zone")
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile as exc:
        raise format_error(f"is not a zip archive ({exc})", file="zip") from exc
    with archive:
        names = set(archive.namelist())
        if MANIFEST not in names:
            raise format_error("is missing from the zip (it must be at the top level)", file=MANIFEST)
        manifest = _parse_manifest(_read_member(archive, MANIFEST))
        version = manifest.oneroster_version

        def load(file: str, build: Callable[[Row], T]) -> tuple[T, ...]:
            mode = manifest.mode(file)
            if mode is FileMode.ABSENT:
                return ()
            if file not in names:
                raise format_error(
                    f"is declared {mode.value} in manifest.csv but missing from the zip", file=file
                )
            text = _read_member(archive, file)
            return _parse_file(text, file, version=version, mode=mode, build=build, received_at=received_at)

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
