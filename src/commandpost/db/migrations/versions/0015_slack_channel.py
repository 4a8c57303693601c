"""slack: slack_channel (the command post in Slack, one row per incident)

Revision ID: 0015
Revises: 0014

``slack_channel`` is the engine's memory of each incident's Slack channel (issue 17): which setup
call is next, the channel's id, the last timeline entry it was told, the opening message's ts, and
the claim or backoff of the next try, so every Slack call is made once across replicas and retries.
Create Date: 2026-12-07 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import commandpost.db.base

revision: str = "0015"
down_revision: str | tuple[str, ...] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "slack_channel",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("step", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("channel_id", sa.String(length=40), nullable=True),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("opening_ts", sa.String(length=40), nullable=True),
        sa.Column("topic", sa.String(length=250), nullable=True),
        sa.Column("invited", sa.String(length=2000), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name=op.f("fk_slack_channel_incident_id_incident")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slack_channel")),
        sa.UniqueConstraint("incident_id", name=op.f("uq_slack_channel_incident_id")),
    )
    with op.batch_alter_table("slack_channel", schema=None) as batch_op:
        batch_op.create_index("ix_slack_channel_next_attempt_at", ["next_attempt_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("slack_channel", schema=None) as batch_op:
        batch_op.drop_index("ix_slack_channel_next_attempt_at")
    op.drop_table("slack_channel")
