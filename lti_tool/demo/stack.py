"""The demo stack: the demo LMS wired to the tool and to one populated class of the demo district.

`make demo` runs the tool at MB_PUBLIC_BASE_URL (default http://127.0.0.1:5000) and the demo LMS at
http://localhost:5001. The two hosts differ on purpose: the LMS frames the tool cross-site, as a real
Canvas or Moodle does, so launches must survive blocked third-party cookies (platform storage).
Beside them runs the demo SIS (`start_demo_sis`, http://127.0.0.1:5002): a fake OneRoster 1.2 server
holding the same district, which the `demo` SIS connection (`lti_tool.demo.load.register_demo_sis`) syncs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.demo.district import DemoDistrict
from lti_tool.demo.load import DEMO_SIS_HOST, DEMO_SIS_PORT
from lti_tool.demo.platform.config import (
    ROLE_ADMINISTRATOR,
    ROLE_FACULTY,
    ROLE_INSTRUCTOR,
    ROLE_LEARNER,
    ROLE_STUDENT,
    DemoContext,
    DemoUser,
    PlatformConfig,
)
from lti_tool.keys import current_signing_key
from lti_tool.models import (
    Course,
    Enrollment,
    EnrollmentRole,
    IdentifierSource,
    LtiContext,
    LtiRegistration,
    Person,
    PersonIdentifier,
    SchoolClass,
    utcnow,
)
from lti_tool.registrations import add_platform, tool_urls

if TYPE_CHECKING:
    from lti_tool.demo.sis import RunningServer

DEMO_CLIENT_ID = "mastery-bridge-demo"
DEMO_DEPLOYMENT_ID = "demo-deployment-1"
DEMO_CLASS = "ALG2-1"


@dataclass(frozen=True, slots=True)
class DemoStack:
    """What `prepare_demo_stack` set up."""

    registration_id: int
    platform: PlatformConfig


def _sis_ids(session: Session, person_ids: list[int]) -> dict[int, str]:
    rows = session.execute(
        select(PersonIdentifier.person_id, PersonIdentifier.value).where(
            PersonIdentifier.person_id.in_(person_ids), PersonIdentifier.source == IdentifierSource.SIS
        )
    ).all()
    return {person_id: value for person_id, value in rows}


def demo_platform_config(
    session: Session, issuer: str, tool_base_url: str
) -> tuple[PlatformConfig, SchoolClass]:
    """A demo LMS course that mirrors the demo district's Algebra II section: same teacher and students."""
    school_class = session.scalar(select(SchoolClass).where(SchoolClass.sourced_id == DEMO_CLASS))
    if school_class is None:
        raise LookupError(
            f"demo class {DEMO_CLASS} is not in the database; run `mastery-bridge demo load` first"
        )
    course = session.get(Course, school_class.course_id)
    members = session.execute(
        select(Person, Enrollment.role)
        .join(Enrollment, Enrollment.person_id == Person.id)
        .where(Enrollment.class_id == school_class.id, Enrollment.is_active.is_(True))
        .order_by(Enrollment.role.desc(), Person.family_name, Person.given_name)
    ).all()
    sis = _sis_ids(session, [person.id for person, _ in members])
    users = [
        DemoUser(
            user_id=f"lms-{sis[person.id].lower()}",
            given_name=person.given_name,
            family_name=person.family_name,
            email=person.email or "",
            roles=(ROLE_INSTRUCTOR, ROLE_FACULTY)
            if role is EnrollmentRole.TEACHER
            else (ROLE_LEARNER, ROLE_STUDENT),
            lis_person_sourcedid=sis[person.id],
        )
        for person, role in members
    ]
    users.append(
        DemoUser("lms-registrar", "Robin", "Registrar", "registrar@riverbend.example", (ROLE_ADMINISTRATOR,))
    )
    urls = tool_urls(tool_base_url)
    config = PlatformConfig(
        issuer=issuer,
        client_id=DEMO_CLIENT_ID,
        deployment_id=DEMO_DEPLOYMENT_ID,
        tool_login_url=urls.login_url,
        tool_redirect_urls=(urls.launch_url,),
        tool_jwks_url=urls.jwks_url,
        context=DemoContext(
            id=f"lms-course-{DEMO_CLASS.lower()}",
            label=course.code if course else DEMO_CLASS,
            title=school_class.title,
            course_section_sourcedid=DEMO_CLASS,
        ),
        users=tuple(users),
    )
    return config, school_class


def prepare_demo_stack(session: Session, issuer: str, tool_base_url: str, *, secret_key: str) -> DemoStack:
    """Register the demo LMS with the tool and link its course and people to the demo district (idempotent).

    Also makes sure the tool has a signing key before anything asks for its JWKS.
    """
    current_signing_key(session, secret_key, now=utcnow())
    config, school_class = demo_platform_config(session, issuer, tool_base_url)
    registration = add_platform(
        session,
        issuer=issuer,
        client_id=DEMO_CLIENT_ID,
        deployment_id=DEMO_DEPLOYMENT_ID,
        auth_login_url=f"{issuer}/platform/authorize",
        auth_token_url=f"{issuer}/platform/token",
        key_set_url=f"{issuer}/platform/jwks",
        name="Demo LMS",
    )
    link_demo_identities(session, registration, config, school_class)
    return DemoStack(registration_id=registration.id, platform=config)


def link_demo_identities(
    session: Session, registration: LtiRegistration, config: PlatformConfig, school_class: SchoolClass
) -> None:
    """Point the LMS course at the district class and each LMS user at the district person.

    In production the SIS sync matches people by the LTI `lis` sourcedid; the demo does it up front so
    the first launch lands on a populated class.
    """
    context = session.scalar(
        select(LtiContext).where(
            LtiContext.registration_id == registration.id, LtiContext.context_id == config.context.id
        )
    )
    if context is None:
        session.add(
            LtiContext(
                registration_id=registration.id,
                context_id=config.context.id,
                class_id=school_class.id,
                title=config.context.title,
            )
        )
    by_sis = {
        value: person_id
        for person_id, value in session.execute(
            select(PersonIdentifier.person_id, PersonIdentifier.value).where(
                PersonIdentifier.source == IdentifierSource.SIS
            )
        ).all()
    }
    known = set(
        session.scalars(
            select(PersonIdentifier.value).where(
                PersonIdentifier.source == IdentifierSource.LTI,
                PersonIdentifier.system == registration.issuer,
            )
        ).all()
    )
    for user in config.users:
        person_id = by_sis.get(user.lis_person_sourcedid or "")
        if person_id is None or user.user_id in known:
            continue
        session.add(
            PersonIdentifier(
                person_id=person_id,
                source=IdentifierSource.LTI,
                system=registration.issuer,
                value=user.user_id,
            )
        )
    session.flush()


def start_demo_sis(
    district: DemoDistrict | None = None, *, host: str = DEMO_SIS_HOST, port: int = DEMO_SIS_PORT
) -> RunningServer:
    """Serve the demo district's fake SIS (OneRoster 1.1 + 1.2, demo credentials) in a background thread.

    `district` defaults to `generate_district()`, the one `demo load` puts in the database, so the
    sourcedIds line up and a sync updates rather than duplicates. Raises OSError if the port is taken.
    """
    from lti_tool.demo.sis import DEMO_CLIENT_ID as SIS_CLIENT_ID
    from lti_tool.demo.sis import DEMO_CLIENT_SECRET as SIS_CLIENT_SECRET
    from lti_tool.demo.sis import FakeOneRoster, RunningServer, seed_from_district

    # Not this module's DEMO_CLIENT_ID: that is the demo LMS's client id for the tool.
    fake = FakeOneRoster(client_id=SIS_CLIENT_ID, client_secret=SIS_CLIENT_SECRET)
    seed_from_district(fake, district)
    return RunningServer(fake, host=host, port=port).start()
