"""alerts: sns_subscription (confirmations for an operator); server_setting (the serving URL)

Revision ID: 0012
Revises: 0011

``sns_subscription`` keeps each SNS (un)subscription confirmation with its SubscribeURL whole —
the one place its Token is not redacted — so an admin can list and confirm it when
``sns_auto_confirm`` is off (issue 14, item 14). ``server_setting`` holds what ``serve`` settled at
start, the public URL first, for processes that do not serve: the CLI, notifications (item 16).
Create Date: 2026-12-01 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import commandpost.db.base

revision: str = "0012"
down_revision: str | tuple[str, ...] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sns_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("integration", sa.String(length=100), nullable=False),
        sa.Column("service", sa.String(length=100), nullable=False),
        sa.Column("topic_arn", sa.String(length=400), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("subscribe_url", sa.Text(), nullable=True),
        sa.Column("subscription_arn", sa.String(length=500), nullable=True),
        sa.Column("received_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("confirmed_by", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integration_key.id"],
            name=op.f("fk_sns_subscription_integration_id_integration_key"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sns_subscription")),
        sa.UniqueConstraint(
            "integration_id", "message_id", name=op.f("uq_sns_subscription_integration_id_message_id")
        ),
    )
    with op.batch_alter_table("sns_subscription", schema=None) as batch_op:
        batch_op.create_index("ix_sns_subscription_state", ["state"], unique=False)

    op.create_table(
        "server_setting",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_server_setting")),
    )


def downgrade() -> None:
    op.drop_table("server_setting")
    with op.batch_alter_table("sns_subscription", schema=None) as batch_op:
        batch_op.drop_index("ix_sns_subscription_state")
    op.drop_table("sns_subscription")
