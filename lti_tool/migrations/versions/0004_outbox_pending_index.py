"""Outbox: a partial index on pending messages, so a worker's claim reads only what is still to send.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_index(
        "ix_outbox_messages_pending",
        "outbox_messages",
        ["connection_id", "topic", "id"],
        unique=False,
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_outbox_messages_pending", table_name="outbox_messages")
