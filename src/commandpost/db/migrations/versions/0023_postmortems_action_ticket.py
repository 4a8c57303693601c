"""postmortems: action_ticket (an action item's ticket in the team's tracker, and its state)

Revision ID: 0023
Revises: 0022

One row per action item whose ticket commandpost created in GitHub, GitLab, Jira or Linear (issue
21): the link, the state last read, and when to read it next (indexed: the engine reads only the
due ones). Nothing to backfill: free-text tickets of older items stay in ``action_item.ticket``.
Create Date: 2026-12-07 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import commandpost.db.base

revision: str = "0023"
down_revision: str | tuple[str, ...] | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "action_ticket",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action_item_id", sa.Integer(), nullable=False),
        sa.Column("tracker", sa.String(length=10), nullable=False),
        sa.Column("external_id", sa.String(length=300), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("state", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("synced_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sync_due_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["action_item_id"], ["action_item.id"], name=op.f("fk_action_ticket_action_item_id_action_item")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_ticket")),
        sa.UniqueConstraint("action_item_id", name=op.f("uq_action_ticket_action_item_id")),
        sa.UniqueConstraint("tracker", "external_id", name=op.f("uq_action_ticket_tracker_external_id")),
    )
    with op.batch_alter_table("action_ticket", schema=None) as batch_op:
        batch_op.create_index("ix_action_ticket_sync_due_at", ["sync_due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("action_ticket", schema=None) as batch_op:
        batch_op.drop_index("ix_action_ticket_sync_due_at")
    op.drop_table("action_ticket")
