"""Grading policies stored in the database: versioned TOML documents the mappings core parses."""

from __future__ import annotations

from importlib import resources

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.models import GradingPolicy, Org, SchoolClass
from mappings import Policy, load_shipped_policy, parse_policy

DEFAULT_POLICY_NAME = "four-point-plus-minus"


def shipped_policy_document(name: str) -> str:
    """The TOML text of a policy shipped in `mappings/policies/`."""
    return (resources.files("mappings") / "policies" / f"{name}.toml").read_text(encoding="utf-8")


def store_policy(session: Session, document: str, *, org_id: int | None = None, source: str) -> GradingPolicy:
    """Validate a policy document and store it as a new version (or return the identical stored one)."""
    policy = parse_policy(document, source=source)
    existing = session.scalar(
        select(GradingPolicy).where(
            GradingPolicy.name == policy.name, GradingPolicy.version == policy.version
        )
    )
    if existing is not None:
        return existing
    row = GradingPolicy(
        name=policy.name,
        version=policy.version,
        effective_year=policy.effective_year,
        document=document,
        org_id=org_id,
    )
    session.add(row)
    session.flush()
    return row


def policy_row_for_class(session: Session, school_class: SchoolClass) -> GradingPolicy | None:
    """The class's own policy, else its school's default, else None."""
    if school_class.policy_id is not None:
        return session.get(GradingPolicy, school_class.policy_id)
    school = session.get(Org, school_class.org_id)
    if school is not None and school.default_policy_id is not None:
        return session.get(GradingPolicy, school.default_policy_id)
    return None


def policy_from_row(row: GradingPolicy) -> Policy:
    """Parse a stored policy document."""
    return parse_policy(row.document, source=f"grading policy {row.name} {row.version}")


def class_policy(session: Session, school_class: SchoolClass) -> tuple[Policy, bool]:
    """The policy grading a class and whether it was chosen by the school (False: the shipped default).

    A class a teacher launched before staff chose a policy still gets proficiency and grades, computed
    with the shipped default; pages say so, so nobody mistakes it for the school's choice.
    """
    row = policy_row_for_class(session, school_class)
    if row is not None:
        return policy_from_row(row), True
    return load_shipped_policy(DEFAULT_POLICY_NAME), False
