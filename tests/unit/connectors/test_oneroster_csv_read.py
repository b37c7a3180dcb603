"""Reading OneRoster 1.1 and 1.2 CSV zips: typed records, bulk and delta, and errors naming file, line and column."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime

import pytest

from connectors.errors import FormatError
from connectors.oneroster import RosterSource, modified_since, where
from connectors.oneroster import User as RestUser
from connectors.oneroster.filters import Query
from connectors.oneroster_csv import (
    FileMode,
    OneRosterVersion,
    PackageRosterSource,
    Status,
    User,
    UserId,
    UserRole,
    read_roster_zip,
)

RECEIVED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

ROSTER_FILES = (
    "academicSessions.csv",
    "classes.csv",
    "courses.csv",
    "demographics.csv",
    "enrollments.csv",
    "orgs.csv",
    "users.csv",
)


def manifest(version: str, modes: dict[str, str]) -> str:
    lines = ["propertyName,value", "manifest.version,1.0", f"oneroster.version,{version}"]
    lines += [f"file.{name.removesuffix('.csv')},{mode}" for name, mode in sorted(modes.items())]
    lines.append("source.systemName,Test SIS")
    return "\r\n".join(lines) + "\r\n"


def make_zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


ORGS = "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\nd1,,,District,district,,\ns1,,,Lincoln High,school,LHS,d1\n"
SESSIONS = (
    "sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId,schoolYear\n"
    "y26,,,2025-26,schoolYear,2025-08-15,2026-06-05,,2026\n"
    "t1,,,Term 1,gradingPeriod,2025-08-15,2025-10-31,y26,2026\n"
)
COURSES = (
    "sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,orgSourcedId,subjects,subjectCodes\n"
    'c1,,,y26,Algebra I,ALG1,"09,10",s1,Mathematics,\n'
)
CLASSES = (
    "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods\n"
    'k1,,,Algebra I - P1,09,c1,ALG1-1,scheduled,Room 12,s1,"t1,t2",Mathematics,,"1,2"\n'
)
USERS_1_1 = (
    "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password\n"
    'u1,,,true,s1,student,avery,"{LDAP:avery},{SIS:1001}",Avery,Smith,,1001,avery@example.org,,,,09,\n'
    "u2,,,false,s1,teacher,jlee,,Jordan,Lee,,,,,,,,\n"
)
USERS_1_2 = (
    "sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password,userMasterIdentifier,resourceSourcedIds,preferredGivenName,preferredMiddleName,preferredFamilyName,primaryOrgSourcedId,pronouns,metadata.local.house\n"
    "u1,,,true,avery,,Avery,Smith,,1001,,,,,09,,M-1,,Ave,,,s1,they/them,Blue\n"
)
ENROLLMENTS = (
    "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate\n"
    "e1,,,k1,s1,u1,student,false,2025-08-15,\n"
)
DEMOGRAPHICS = (
    "sourcedId,status,dateLastModified,birthDate,sex,americanIndianOrAlaskaNative,asian,blackOrAfricanAmerican,nativeHawaiianOrOtherPacificIslander,white,demographicRaceTwoOrMoreRaces,hispanicOrLatinoEthnicity,countryOfBirthCode,stateOfBirthAbbreviation,cityOfBirth,publicSchoolResidenceStatus\n"
    "u1,,,2010-03-04,female,false,true,false,false,false,false,false,US,OR,Portland,\n"
)


def bulk_package(version: str, users: str) -> dict[str, str]:
    files = {
        "orgs.csv": ORGS,
        "academicSessions.csv": SESSIONS,
        "courses.csv": COURSES,
        "classes.csv": CLASSES,
        "users.csv": users,
        "enrollments.csv": ENROLLMENTS,
        "demographics.csv": DEMOGRAPHICS,
    }
    return {"manifest.csv": manifest(version, dict.fromkeys(files, "bulk")), **files}


def test_reads_a_1_1_bulk_package_into_typed_records() -> None:
    package = read_roster_zip(make_zip(bulk_package("1.1", USERS_1_1)), received_at=RECEIVED)

    assert package.manifest.oneroster_version is OneRosterVersion.V1_1
    assert package.manifest.mode("users.csv") is FileMode.BULK
    assert package.manifest.mode("results.csv") is FileMode.ABSENT
    assert package.manifest.source_system_name == "Test SIS"
    assert [org.sourced_id for org in package.orgs] == ["d1", "s1"]
    assert package.orgs[1].parent_sourced_id == "d1"
    assert package.academic_sessions[1].start_date == date(2025, 8, 15)
    assert package.courses[0].grades == ("09", "10")
    assert package.classes[0].term_sourced_ids == ("t1", "t2")
    assert package.classes[0].periods == ("1", "2")
    avery, jordan = package.users
    assert avery.user_ids == (UserId("LDAP", "avery"), UserId("SIS", "1001"))
    assert avery.roles == (UserRole(role="student", org_sourced_id="s1"),)
    assert avery.role_names == {"student"}
    assert avery.org_sourced_ids == ("s1",)
    # Bulk rows may leave status and dateLastModified blank: active, as of when the package arrived.
    assert avery.status is Status.ACTIVE
    assert avery.date_last_modified == RECEIVED
    assert jordan.is_enabled is False
    assert package.enrollments[0].is_primary is False
    assert package.enrollments[0].end_date is None
    assert package.demographics[0].asian is True
    assert package.demographics[0].birth_date == date(2010, 3, 4)


def test_reads_1_2_users_without_role_and_ignores_extension_columns() -> None:
    package = read_roster_zip(make_zip(bulk_package("1.2", USERS_1_2)))

    (user,) = package.users
    assert user.roles == ()  # 1.2 keeps roles in roles.csv
    assert user.org_sourced_ids == ()
    assert user.preferred_given_name == "Ave"
    assert user.primary_org_sourced_id == "s1"
    assert user.pronouns == "they/them"


def test_reads_a_delta_file_with_status_and_timestamps() -> None:
    enrollments = (
        "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate\n"
        "e1,tobedeleted,2025-09-01T12:30:00.000Z,k1,s1,u1,student,,,\n"
        "e2,inactive,2025-09-02T08:00:00+00:00,k1,s1,u2,teacher,true,,\n"
    )
    content = make_zip(
        {"manifest.csv": manifest("1.2", {"enrollments.csv": "delta"}), "enrollments.csv": enrollments}
    )

    package = read_roster_zip(content)

    assert package.manifest.mode("enrollments.csv") is FileMode.DELTA
    first, second = package.enrollments
    assert first.status is Status.TO_BE_DELETED
    assert first.date_last_modified == datetime(2025, 9, 1, 12, 30, tzinfo=UTC)
    assert second.status is Status.TO_BE_DELETED  # 1.0's "inactive"
    assert package.users == ()


def test_accepts_a_utf8_bom_and_crlf() -> None:
    files = {
        "manifest.csv": manifest("1.1", {"orgs.csv": "bulk"}),
        "orgs.csv": "\ufeff" + ORGS.replace("\n", "\r\n"),
    }
    package = read_roster_zip(make_zip(files))
    assert package.orgs[1].name == "Lincoln High"


def error_for(files: dict[str, str]) -> FormatError:
    with pytest.raises(FormatError) as caught:
        read_roster_zip(make_zip(files))
    return caught.value


@pytest.mark.parametrize(
    ("file", "text", "item", "field"),
    [
        (
            "orgs.csv",
            ORGS.replace("s1,,,Lincoln High,school", "s1,,,Lincoln High,campus"),
            "orgs.csv line 3",
            "type",
        ),
        ("orgs.csv", ORGS.replace("d1,,,District", ",,,District"), "orgs.csv line 2", "sourcedId"),
        ("orgs.csv", ORGS + "d1,,,Again,district,,\n", "orgs.csv line 4", "sourcedId"),
        ("orgs.csv", ORGS.replace("name,", ""), "orgs.csv line 1", "name"),
        (
            "academicSessions.csv",
            SESSIONS.replace("2025-10-31", "31/10/2025"),
            "academicSessions.csv line 3",
            "endDate",
        ),
        (
            "academicSessions.csv",
            SESSIONS.replace("2025-10-31", "2025-02-30"),
            "academicSessions.csv line 3",
            "endDate",
        ),
        (
            "academicSessions.csv",
            SESSIONS.replace(",2026\nt1", ",26\nt1"),
            "academicSessions.csv line 2",
            "schoolYear",
        ),
        ("users.csv", USERS_1_1.replace("u2,,,false", "u2,,,no"), "users.csv line 3", "enabledUser"),
        ("users.csv", USERS_1_1.replace("{SIS:1001}", "SIS-1001"), "users.csv line 2", "userIds"),
        ("users.csv", USERS_1_1.replace(",student,avery", ",pupil,avery"), "users.csv line 2", "role"),
        ("classes.csv", CLASSES.replace('"t1,t2"', ""), "classes.csv line 2", "termSourcedIds"),
        (
            "enrollments.csv",
            ENROLLMENTS.replace("false,2025-08-15,", "false,2025-08-15,2025-08-01"),
            "enrollments.csv line 2",
            "endDate",
        ),
        ("demographics.csv", DEMOGRAPHICS.replace(",true,", ",yes,"), "demographics.csv line 2", "asian"),
    ],
)
def test_a_bad_cell_names_file_line_and_column(file: str, text: str, item: str, field: str) -> None:
    files = bulk_package("1.1", USERS_1_1)
    files[file] = text

    error = error_for(files)

    assert (error.item, error.field) == (item, field)
    assert item in str(error)
    assert field in str(error)


def test_delta_rows_need_status_and_date_last_modified() -> None:
    orgs = "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\nd1,active,,District,district,,\n"
    error = error_for({"manifest.csv": manifest("1.2", {"orgs.csv": "delta"}), "orgs.csv": orgs})
    assert (error.item, error.field) == ("orgs.csv line 2", "dateLastModified")


def test_date_last_modified_needs_a_time_zone() -> None:
    orgs = "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\nd1,active,2025-09-01T10:00:00,District,district,,\n"
    error = error_for({"manifest.csv": manifest("1.2", {"orgs.csv": "delta"}), "orgs.csv": orgs})
    assert error.field == "dateLastModified"


def test_a_ragged_row_names_its_line() -> None:
    files = bulk_package("1.1", USERS_1_1)
    files["courses.csv"] = COURSES + "c2,,,y26,Geometry\n"
    error = error_for(files)
    assert error.item == "courses.csv line 3"


def test_a_quoted_cell_spanning_lines_reports_the_line_it_starts_on() -> None:
    files = bulk_package("1.1", USERS_1_1)
    files["orgs.csv"] = (
        ORGS.replace("s1,,,Lincoln High,school", 's1,,,"Lincoln\nHigh",school') + "s2,,,X,campus,,\n"
    )
    error = error_for(files)
    assert (error.item, error.field) == ("orgs.csv line 5", "type")


@pytest.mark.parametrize(
    ("files", "item", "field"),
    [
        ({"orgs.csv": ORGS}, "manifest.csv", None),
        ({"manifest.csv": "name,value\nmanifest.version,1.0\n"}, "manifest.csv line 1", "propertyName"),
        ({"manifest.csv": manifest("1.3", {})}, "manifest.csv line 3", "value"),
        ({"manifest.csv": manifest("1.2", {"orgs.csv": "full"})}, "manifest.csv line 4", "value"),
        ({"manifest.csv": manifest("1.2", {"orgs.csv": "bulk"})}, "orgs.csv", None),
        ({"manifest.csv": manifest("1.2", {"orgs.csv": "bulk"}), "orgs.csv": ""}, "orgs.csv line 1", None),
    ],
)
def test_a_bad_manifest_or_missing_file_is_named(files: dict[str, str], item: str, field: str | None) -> None:
    error = error_for(files)
    assert (error.item, error.field) == (item, field)


def test_not_a_zip_and_not_utf8_are_format_errors() -> None:
    with pytest.raises(FormatError, match="not a zip"):
        read_roster_zip(b"sourcedId,status\n")
    files = {"manifest.csv": manifest("1.2", {"orgs.csv": "bulk"})}
    content = make_zip(files)
    buffer = io.BytesIO(content)
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("orgs.csv", b"sourcedId,name\n\xff\xfe\n")
    with pytest.raises(FormatError, match="not UTF-8") as caught:
        read_roster_zip(buffer.getvalue())
    assert caught.value.item == "orgs.csv"


def test_a_file_declared_absent_is_not_read() -> None:
    files = {"manifest.csv": manifest("1.2", {"orgs.csv": "absent"}), "orgs.csv": "garbage,\n,,,\n"}
    assert read_roster_zip(make_zip(files)).orgs == ()


def test_csv_rows_are_the_rest_record_types() -> None:
    package = read_roster_zip(make_zip(bulk_package("1.1", USERS_1_1)), received_at=RECEIVED)
    assert User is RestUser
    assert all(type(user) is RestUser for user in package.users)


def test_received_at_must_carry_a_time_zone() -> None:
    with pytest.raises(ValueError, match="time zone"):
        read_roster_zip(make_zip(bulk_package("1.1", USERS_1_1)), received_at=datetime(2026, 1, 1))


def source_for(files: dict[str, str]) -> PackageRosterSource:
    return PackageRosterSource(read_roster_zip(make_zip(files), received_at=RECEIVED))


def test_package_roster_source_serves_every_collection() -> None:
    source: RosterSource = source_for(bulk_package("1.1", USERS_1_1))
    assert [o.sourced_id for o in source.fetch_orgs()] == ["d1", "s1"]
    assert [s.sourced_id for s in source.fetch_academic_sessions()] == ["y26", "t1"]
    assert [c.sourced_id for c in source.fetch_courses()] == ["c1"]
    assert [c.sourced_id for c in source.fetch_classes()] == ["k1"]
    assert [u.sourced_id for u in source.fetch_users()] == ["u1", "u2"]
    assert [e.sourced_id for e in source.fetch_enrollments()] == ["e1"]
    assert isinstance(source, PackageRosterSource)
    assert [d.sourced_id for d in source.fetch_demographics()] == ["u1"]


def test_package_roster_source_applies_rest_filter_semantics() -> None:
    source = source_for(bulk_package("1.1", USERS_1_1))
    assert [u.sourced_id for u in source.fetch_users(Query(filter=where("role", "=", "teacher")))] == ["u2"]
    assert [u.sourced_id for u in source.fetch_users(Query(filter=where("enabledUser", "=", "true")))] == [
        "u1"
    ]
    two = where("familyName", "~", "e").or_(where("sourcedId", "=", "u1").first)
    assert [
        u.sourced_id for u in source.fetch_users(Query(filter=two, sort="sourcedId", order_by="desc"))
    ] == [
        "u2",
        "u1",
    ]
    assert [c.sourced_id for c in source.fetch_classes(Query(filter=where("terms", "=", "t2")))] == ["k1"]
    assert [c.sourced_id for c in source.fetch_classes(Query(filter=where("course", "=", "c2")))] == []
    assert list(source.fetch_users(Query(filter=modified_since(RECEIVED)))) == []
    with pytest.raises(ValueError, match="nosuch"):
        list(source.fetch_users(Query(filter=where("nosuch", "=", "x"))))


def test_package_roster_source_knows_delta_files() -> None:
    enrollments = (
        "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate\n"
        "e1,tobedeleted,2025-09-01T12:30:00.000Z,k1,s1,u1,student,,,\n"
        "e2,active,2025-08-01T12:30:00.000Z,k1,s1,u2,student,,,\n"
    )
    source = source_for(
        {"manifest.csv": manifest("1.2", {"enrollments.csv": "delta"}), "enrollments.csv": enrollments}
    )
    assert source.is_delta("enrollments")
    assert not source.is_delta("users")
    assert source.mode("users") is FileMode.ABSENT
    since = datetime(2025, 8, 15, tzinfo=UTC)
    assert [e.sourced_id for e in source.fetch_enrollments(Query(filter=modified_since(since)))] == ["e1"]
    with pytest.raises(ValueError, match="collection"):
        source.mode("nosuch")
