"""reach: a message's provider id, delivery receipt and the act taken through it; how an incident was acked

Revision ID: 0014
Revises: 0013

Twilio and Vonage say later whether a text reached the handset (status callbacks, delivery
receipts). ``provider_ref`` finds the message a callback is about; ``receipt`` keeps the furthest
state it reached; an undelivered one falls through to the person's next method (issue 16).
``acted``/``acted_at`` say a page's one-tap link, SMS reply or keypress was used, and the incident's
``acknowledged_by``/``acknowledged_via`` who acknowledged first and how (time to ack per method).
Create Date: 2026-12-07 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import commandpost.db.base

revision: str = "0014"
down_revision: str | tuple[str, ...] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outgoing_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provider_ref", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("receipt", sa.String(length=20), nullable=True))
        batch_op.add_column(
            sa.Column("receipt_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("acted", sa.String(length=20), nullable=True))
        batch_op.add_column(
            sa.Column("acted_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_outgoing_message_provider_ref"), ["provider_ref"], unique=False)
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(sa.Column("acknowledged_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("acknowledged_via", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_column("acknowledged_via")
        batch_op.drop_column("acknowledged_by")
    with op.batch_alter_table("outgoing_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outgoing_message_provider_ref"))
        batch_op.drop_column("acted_at")
        batch_op.drop_column("acted")
        batch_op.drop_column("receipt_at")
        batch_op.drop_column("receipt")
        batch_op.drop_column("provider_ref")
