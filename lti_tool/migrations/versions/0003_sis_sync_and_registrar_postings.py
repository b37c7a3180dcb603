"""SIS sync (connection org, outbox leases, class identity reviews, dry runs) and registrar postings.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 03:30:06.066851
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "grade_postings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("academic_session_id", sa.Integer(), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("posted_by", sa.String(length=255), nullable=False),
        sa.Column(
            "counts",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "check_report",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["academic_session_id"],
            ["academic_sessions.id"],
            name=op.f("fk_grade_postings_academic_session_id_academic_sessions"),
        ),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f("fk_grade_postings_org_id_orgs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grade_postings")),
    )
    with op.batch_alter_table("grade_postings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_grade_postings_org_id"), ["org_id"], unique=False)

    with op.batch_alter_table("identity_reviews", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "kind",
                sa.Enum("person", "class", name="kind", native_enum=False, create_constraint=True, length=32),
                server_default="person",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("connection_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("lti_context_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("candidate_class_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("resolved_class_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("resolved_by", sa.String(length=255), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_identity_reviews_connection_id"), ["connection_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_identity_reviews_candidate_class_id_classes"),
            "classes",
            ["candidate_class_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_identity_reviews_lti_context_id_lti_contexts"),
            "lti_contexts",
            ["lti_context_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_identity_reviews_resolved_class_id_classes"),
            "classes",
            ["resolved_class_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_identity_reviews_connection_id_sis_connections"),
            "sis_connections",
            ["connection_id"],
            ["id"],
        )

    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("connection_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_outbox_messages_connection_id"), ["connection_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_messages_connection_id_sis_connections"),
            "sis_connections",
            ["connection_id"],
            ["id"],
        )

    with op.batch_alter_table("posted_grades", schema=None) as batch_op:
        batch_op.add_column(sa.Column("posting_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_posted_grades_posting_id"), ["posting_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_posted_grades_posting_id_grade_postings"), "grade_postings", ["posting_id"], ["id"]
        )

    with op.batch_alter_table("sis_connections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("org_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("is_enabled", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.create_index(batch_op.f("ix_sis_connections_org_id"), ["org_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_sis_connections_org_id_orgs"), "orgs", ["org_id"], ["id"])

    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("is_dry_run", sa.Boolean(), server_default=sa.false(), nullable=False))

    _add_roster_pull_columns()


# Roster pull (lti_tool.sis.roster_pull): which connection owns an org, which SIS rows are deleted, and
# the LTI context's course-section sourcedid. Plain ADD COLUMNs: a string server default and an inline
# REFERENCES keep SQLite from rebuilding these heavily referenced tables (a rebuild drops the old table,
# which foreign keys from existing rows refuse).
_IS_ACTIVE_TABLES = ("orgs", "academic_sessions", "courses", "classes", "persons")


def _add_roster_pull_columns() -> None:
    for table in _IS_ACTIVE_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("is_active", sa.Boolean(), server_default="1", nullable=False))
    if op.get_context().dialect.name == "sqlite":
        # Alembic's batch mode would rebuild `orgs` for the foreign key; SQLite adds a REFERENCES column as is.
        op.execute(
            "ALTER TABLE orgs ADD COLUMN sis_connection_id INTEGER"
            " CONSTRAINT fk_orgs_sis_connection_id_sis_connections REFERENCES sis_connections (id)"
        )
    else:
        op.add_column("orgs", sa.Column("sis_connection_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f("fk_orgs_sis_connection_id_sis_connections"),
            "orgs",
            "sis_connections",
            ["sis_connection_id"],
            ["id"],
        )
    op.create_index(op.f("ix_orgs_sis_connection_id"), "orgs", ["sis_connection_id"], unique=False)
    with op.batch_alter_table("lti_contexts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("course_section_sourcedid", sa.String(length=255), nullable=True))


def _drop_roster_pull_columns() -> None:
    with op.batch_alter_table("lti_contexts", schema=None) as batch_op:
        batch_op.drop_column("course_section_sourcedid")
    with op.batch_alter_table("orgs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orgs_sis_connection_id"))
        if op.get_context().dialect.name != "sqlite":  # SQLite's inline REFERENCES has no name to drop
            batch_op.drop_constraint(
                batch_op.f("fk_orgs_sis_connection_id_sis_connections"), type_="foreignkey"
            )
        batch_op.drop_column("sis_connection_id")
    for table in reversed(_IS_ACTIVE_TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("is_active")


def downgrade() -> None:
    """Revert this revision."""
    _drop_roster_pull_columns()
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.drop_column("is_dry_run")

    with op.batch_alter_table("sis_connections", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_sis_connections_org_id_orgs"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_sis_connections_org_id"))
        batch_op.drop_column("is_enabled")
        batch_op.drop_column("org_id")

    with op.batch_alter_table("posted_grades", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_posted_grades_posting_id_grade_postings"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_posted_grades_posting_id"))
        batch_op.drop_column("posting_id")

    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_outbox_messages_connection_id_sis_connections"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_outbox_messages_connection_id"))
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("claimed_by")
        batch_op.drop_column("connection_id")

    with op.batch_alter_table("identity_reviews", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_identity_reviews_connection_id_sis_connections"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_identity_reviews_resolved_class_id_classes"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_identity_reviews_lti_context_id_lti_contexts"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_identity_reviews_candidate_class_id_classes"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_identity_reviews_connection_id"))
        batch_op.drop_column("resolved_by")
        batch_op.drop_column("resolved_class_id")
        batch_op.drop_column("candidate_class_id")
        batch_op.drop_column("lti_context_id")
        batch_op.drop_column("connection_id")
        # SQLite's batch rebuild would keep the enum's CHECK on a dropped column: name it to drop it.
        batch_op.drop_constraint(op.f("ck_identity_reviews_kind"), type_="check")
        batch_op.drop_column("kind")

    with op.batch_alter_table("grade_postings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grade_postings_org_id"))

    op.drop_table("grade_postings")
