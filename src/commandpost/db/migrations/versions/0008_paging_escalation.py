"""paging: escalation (one row per incident: where its chain stands, next_escalation_at indexed)

Revision ID: 0008
Revises: 0004, 0005, 0006
Create Date: 2026-11-27 07:04:14.168677
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import commandpost.db.base

revision: str = "0008"
# After oncall (0004) and notify (0005), and incidents (0002) through runbooks (0006): every page
# carries the runbook's first move. 0002 is no longer a head, so 0006 brings it.
down_revision: str | tuple[str, ...] | None = ("0004", "0005", "0006")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "escalation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("policy", sa.String(length=100), nullable=True),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("chain", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("repeat", sa.Integer(), nullable=False),
        sa.Column("fired", sa.Integer(), nullable=False),
        sa.Column("fyi_sent", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("next_escalation_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("started_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_fired_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=100), nullable=True),
        sa.Column("stopped_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("stop_reason", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name=op.f("fk_escalation_incident_id_incident")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalation")),
        sa.UniqueConstraint("incident_id", name=op.f("uq_escalation_incident_id")),
    )
    with op.batch_alter_table("escalation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_escalation_next_escalation_at"), ["next_escalation_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("escalation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_escalation_next_escalation_at"))

    op.drop_table("escalation")
