"""Load the demo district (`lti_tool.demo.district`) into a `FakeOneRoster`, in official OneRoster 1.2 shapes.

sourcedIds match what `lti_tool.demo.load` writes to the database (org `RUSD` and the school id, sessions
by their ids, courses `CRS-<code>`, people and classes by their ids, enrollments `ENR-<class>-<person>`),
so a sync from the demo SIS lines up with a database loaded by `mastery-bridge demo load`.
"""

from __future__ import annotations

import random
from datetime import date
from typing import Any, Final

from lti_tool.demo.district import DemoDistrict, DemoPerson, generate_district
from lti_tool.demo.sis.server import V1P2, FakeOneRoster

DISTRICT_SOURCED_ID: Final = "RUSD"
MODIFIED: Final = "2026-08-01T00:00:00.000Z"
_SESSION_TYPES: Final = {
    "school_year": "schoolYear",
    "semester": "semester",
    "grading_period": "gradingPeriod",
}
_COLLECTION_OF: Final = {
    "org": "orgs",
    "academicSession": "academicSessions",
    "course": "courses",
    "class": "classes",
    "user": "users",
}


def ref(kind: str, sourced_id: str, *, base: str = f"https://sis.riverbend.example{V1P2}") -> dict[str, str]:
    """A 1.2 GUIDRef to `sourced_id` of type `kind`."""
    return {"href": f"{base}/{_COLLECTION_OF[kind]}/{sourced_id}", "sourcedId": sourced_id, "type": kind}


def _base() -> dict[str, Any]:
    return {"status": "active", "dateLastModified": MODIFIED}


def _school_year(district: DemoDistrict) -> str:
    """OneRoster `schoolYear` is the ending year: "2027" for 2026-27."""
    years = [s.end.year for s in district.sessions if s.type == "school_year"]
    return str(max(years)) if years else str(district.sessions[0].end.year)


def _user(person: DemoPerson, school_id: str) -> dict[str, Any]:
    return {
        **_base(),
        "sourcedId": person.sourced_id,
        "enabledUser": "true",
        "username": person.email,
        "givenName": person.given_name,
        "familyName": person.family_name,
        "email": person.email,
        "identifier": person.sourced_id,
        "roles": [{"roleType": "primary", "role": person.role, "org": ref("org", school_id)}],
        "userIds": [{"type": "SIS", "identifier": person.sourced_id}],
    }


def _demographics(sourced_id: str) -> dict[str, Any]:
    """Reproducible, plausible demographics for one student (demo data, not real people)."""
    rng = random.Random(f"demographics:{sourced_id}")  # noqa: S311 - reproducible demo data
    race = rng.choice(
        ("white", "asian", "blackOrAfricanAmerican", "americanIndianOrAlaskaNative", "twoOrMore", "white")
    )
    flags = {
        name: "true" if race == name else "false"
        for name in (
            "americanIndianOrAlaskaNative",
            "asian",
            "blackOrAfricanAmerican",
            "nativeHawaiianOrOtherPacificIslander",
            "white",
        )
    }
    return {
        **_base(),
        "sourcedId": sourced_id,
        "birthDate": date(2010 + rng.randint(0, 1), rng.randint(1, 12), rng.randint(1, 28)).isoformat(),
        "sex": rng.choice(("female", "male", "female", "male", "other")),
        **flags,
        "demographicRaceTwoOrMoreRaces": "true" if race == "twoOrMore" else "false",
        "hispanicOrLatinoEthnicity": "true" if rng.random() < 0.3 else "false",
    }


def seed_from_district(fake: FakeOneRoster, district: DemoDistrict | None = None) -> DemoDistrict:
    """Add every org, session, course, class, user, enrollment and student demographics of `district`."""
    district = district or generate_district()
    school_id = district.school_id
    fake.add(
        "orgs",
        {**_base(), "sourcedId": DISTRICT_SOURCED_ID, "name": district.district_name, "type": "district",
         "identifier": DISTRICT_SOURCED_ID},
    )  # fmt: skip
    fake.add(
        "orgs",
        {**_base(), "sourcedId": school_id, "name": district.school_name, "type": "school",
         "identifier": school_id, "parent": ref("org", DISTRICT_SOURCED_ID)},
    )  # fmt: skip
    school_year = _school_year(district)
    for item in district.sessions:
        record: dict[str, Any] = {
            **_base(),
            "sourcedId": item.sourced_id,
            "title": item.title,
            "type": _SESSION_TYPES.get(item.type, "term"),
            "startDate": item.start.isoformat(),
            "endDate": item.end.isoformat(),
            "schoolYear": school_year,
        }
        if item.parent:
            record["parent"] = ref("academicSession", item.parent)
        fake.add("academicSessions", record)
    year_id = next((s.sourced_id for s in district.sessions if s.type == "school_year"), None)
    periods: dict[str, tuple[str, ...]] = {}
    for course in district.courses:
        periods[course.code] = course.period_ids
        record = {
            **_base(),
            "sourcedId": f"CRS-{course.code}",
            "title": course.title,
            "courseCode": course.code,
            "org": ref("org", school_id),
            "subjects": [course.subject],
        }
        if year_id:
            record["schoolYear"] = ref("academicSession", year_id)
        fake.add("courses", record)
    for person in (*district.teachers, *district.students):
        fake.add("users", _user(person, school_id))
    sessions = {s.sourced_id: s for s in district.sessions}
    for demo_class in district.classes:
        terms = sorted({*(periods[demo_class.course_code]), *([year_id] if year_id else [])})
        fake.add(
            "classes",
            {
                **_base(),
                "sourcedId": demo_class.sourced_id,
                "title": demo_class.title,
                "classCode": demo_class.sourced_id,
                "classType": "scheduled",
                "course": ref("course", f"CRS-{demo_class.course_code}"),
                "school": ref("org", school_id),
                "terms": [ref("academicSession", t) for t in terms],
            },
        )
        first = sessions[periods[demo_class.course_code][0]]
        last = sessions[periods[demo_class.course_code][-1]]
        members = [(demo_class.teacher_id, "teacher"), *((sid, "student") for sid in demo_class.student_ids)]
        for sourced_id, role in members:
            fake.add(
                "enrollments",
                {
                    **_base(),
                    "sourcedId": f"ENR-{demo_class.sourced_id}-{sourced_id}",
                    "role": role,
                    "primary": "true" if role == "teacher" else "false",
                    "user": ref("user", sourced_id),
                    "class": ref("class", demo_class.sourced_id),
                    "school": ref("org", school_id),
                    "beginDate": first.start.isoformat(),
                    "endDate": last.end.isoformat(),
                },
            )
    for student in district.students:
        fake.add("demographics", _demographics(student.sourced_id))
    return district
