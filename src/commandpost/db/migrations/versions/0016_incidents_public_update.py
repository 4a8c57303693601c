"""incidents: public_update (what the status page shows: only what Comms or the IC published)

Revision ID: 0016
Revises: 0015

``public_update`` keeps each update published to the public status page (issue 18): its public
title and message, apart from the incident's internal ones, the public state it was published with
and the state of each affected service then. The status page reads nothing else.
Create Date: 2026-12-09 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import commandpost.db.base

revision: str = "0016"
down_revision: str | tuple[str, ...] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "public_update",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("at", commandpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column(
            "services",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["timeline_entry.id"], name=op.f("fk_public_update_entry_id_timeline_entry")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name=op.f("fk_public_update_incident_id_incident")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_public_update")),
    )
    with op.batch_alter_table("public_update", schema=None) as batch_op:
        batch_op.create_index("ix_public_update_at", ["at"], unique=False)
        batch_op.create_index("ix_public_update_incident_id_id", ["incident_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("public_update", schema=None) as batch_op:
        batch_op.drop_index("ix_public_update_incident_id_id")
        batch_op.drop_index("ix_public_update_at")
    op.drop_table("public_update")
