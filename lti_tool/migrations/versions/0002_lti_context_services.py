"""LTI contexts remember their NRPS and AGS endpoints and when the roster was last synced.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("lti_contexts") as batch:
        batch.add_column(sa.Column("memberships_url", sa.String(length=2048), nullable=True))
        batch.add_column(sa.Column("line_items_url", sa.String(length=2048), nullable=True))
        batch.add_column(
            sa.Column(
                "ags_scopes",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch.add_column(sa.Column("last_roster_sync_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("lti_contexts") as batch:
        batch.drop_column("last_roster_sync_at")
        batch.drop_column("ags_scopes")
        batch.drop_column("line_items_url")
        batch.drop_column("memberships_url")
