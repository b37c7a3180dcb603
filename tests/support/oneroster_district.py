"""A small district in official OneRoster 1.2 shapes, loaded into a `FakeOneRoster`."""

from __future__ import annotations

from tests.support.oneroster_fake import V1P2, FakeOneRoster


def _ref(kind: str, sourced_id: str, path: str) -> dict[str, str]:
    return {"href": f"https://sis.example{V1P2}/{path}/{sourced_id}", "sourcedId": sourced_id, "type": kind}


def seed_district(fake: FakeOneRoster, *, student_count: int = 23) -> None:
    """A small district in official 1.2 shapes: one school, a term, a course, two classes, users, enrollments."""
    when = "2026-01-10T08:00:00.000Z"
    base = {"status": "active", "dateLastModified": when}
    fake.add(
        "orgs",
        {**base, "sourcedId": "org-district", "name": "District X", "type": "district", "identifier": "DX"},
    )
    fake.add(
        "orgs",
        {
            **base,
            "sourcedId": "org-school",
            "name": "North High",
            "type": "school",
            "identifier": "NH",
            "parent": _ref("org", "org-district", "orgs"),
        },
    )
    fake.add(
        "academicSessions",
        {
            **base,
            "sourcedId": "term-1",
            "title": "Fall",
            "type": "term",
            "startDate": "2025-08-20",
            "endDate": "2026-01-20",
            "schoolYear": "2026",
        },
    )
    fake.add(
        "courses",
        {
            **base,
            "sourcedId": "course-alg",
            "title": "Algebra I",
            "courseCode": "ALG1",
            "org": _ref("org", "org-school", "orgs"),
        },
    )
    for n in (1, 2):
        fake.add(
            "classes",
            {
                **base,
                "sourcedId": f"class-{n}",
                "title": f"Algebra I - P{n}",
                "classCode": f"ALG1-{n}",
                "classType": "scheduled",
                "course": _ref("course", "course-alg", "courses"),
                "school": _ref("org", "org-school", "orgs"),
                "terms": [_ref("academicSession", "term-1", "academicSessions")],
            },
        )
    people = [("teacher", "t-1", "Ada", "Lovelace")] + [
        ("student", f"s-{i:02d}", f"Student{i}", "O'Brien" if i == 1 else "Doe")
        for i in range(1, student_count + 1)
    ]
    for role, sid, given, family in people:
        fake.add(
            "users",
            {
                **base,
                "sourcedId": sid,
                "enabledUser": "true",
                "givenName": given,
                "familyName": family,
                "username": sid,
                "email": f"{sid}@example.edu",
                "roles": [{"roleType": "primary", "role": role, "org": _ref("org", "org-school", "orgs")}],
                "userIds": [{"type": "sis", "identifier": sid.upper()}],
            },
        )
        classes = ("class-1", "class-2") if role == "teacher" else (f"class-{1 + int(sid[2:]) % 2}",)
        for class_id in classes:
            fake.add(
                "enrollments",
                {
                    **base,
                    "sourcedId": f"enr-{sid}-{class_id}",
                    "role": role,
                    "primary": "true",
                    "user": _ref("user", sid, "users"),
                    "class": _ref("class", class_id, "classes"),
                    "school": _ref("org", "org-school", "orgs"),
                    "beginDate": "2025-08-20",
                },
            )
        fake.add(
            "demographics",
            {
                **base,
                "sourcedId": sid,
                "birthDate": "2010-05-01",
                "sex": "unspecified",
                "white": "false",
                "asian": "true",
            },
        )
