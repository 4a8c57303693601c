"""oncall: oncall_swap (shift swaps, covers and takes)

Revision ID: 0013
Revises: 0012

``oncall_swap`` keeps each request to cover or swap a range of an on-call layer, and each "take the
rest of this shift now", with its state and who decided it; an accepted one points at the
``oncall_override`` rows it created (issue 16, "The right person").
Create Date: 2026-12-02 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import commandpost.db.base

revision: str = "0013"
down_revision: str | tuple[str, ...] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oncall_swap",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule", sa.String(length=100), nullable=False),
        sa.Column("layer", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("requester", sa.String(length=100), nullable=False),
        sa.Column("target", sa.String(length=100), nullable=False),
        sa.Column("starts_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("counter_starts_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("counter_ends_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("expires_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("override_id", sa.Integer(), nullable=True),
        sa.Column("counter_override_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oncall_swap")),
    )
    with op.batch_alter_table("oncall_swap", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oncall_swap_requester"), ["requester"], unique=False)
        batch_op.create_index(batch_op.f("ix_oncall_swap_target"), ["target"], unique=False)
        batch_op.create_index("ix_oncall_swap_state_expires_at", ["state", "expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("oncall_swap", schema=None) as batch_op:
        batch_op.drop_index("ix_oncall_swap_state_expires_at")
        batch_op.drop_index(batch_op.f("ix_oncall_swap_target"))
        batch_op.drop_index(batch_op.f("ix_oncall_swap_requester"))
    op.drop_table("oncall_swap")
