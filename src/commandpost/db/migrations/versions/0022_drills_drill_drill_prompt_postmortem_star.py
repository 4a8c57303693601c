"""drills: drill, drill_prompt; postmortems: postmortem_star (Wheel of Misfortune and praise, issue 21)

Revision ID: 0022
Revises: 0021

A ``drill`` ties a drill incident (unique) to the past incident it replays, with its game master,
trainee and speed. Its ``drill_prompt`` rows are the original's alerts and key moments, each due at
the drill's start + original offset / speed; ``due_at`` is indexed and cleared once delivered, so the
engine reads only the prompts due by now. ``postmortem_star`` holds one star per (postmortem, person);
``starred_at`` is indexed for "the month's most starred". Nothing to backfill.
Create Date: 2026-12-07 17:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import commandpost.db.base

revision: str = "0022"
down_revision: str | tuple[str, ...] | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "drill",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("game_master", sa.String(length=100), nullable=False),
        sa.Column("trainee", sa.String(length=100), nullable=True),
        sa.Column("speed", sa.Integer(), nullable=False),
        sa.Column("started_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"], name=op.f("fk_drill_incident_id_incident")),
        sa.ForeignKeyConstraint(["source_id"], ["incident.id"], name=op.f("fk_drill_source_id_incident")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drill")),
        sa.UniqueConstraint("incident_id", name=op.f("uq_drill_incident_id")),
    )
    with op.batch_alter_table("drill", schema=None) as batch_op:
        batch_op.create_index("ix_drill_source_id", ["source_id"], unique=False)
    op.create_table(
        "drill_prompt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("drill_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("offset_seconds", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("data", _JSON, nullable=False),
        sa.Column("due_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["drill_id"], ["drill.id"], name=op.f("fk_drill_prompt_drill_id_drill")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drill_prompt")),
    )
    with op.batch_alter_table("drill_prompt", schema=None) as batch_op:
        batch_op.create_index("ix_drill_prompt_due_at", ["due_at"], unique=False)
        batch_op.create_index("ix_drill_prompt_drill_id", ["drill_id"], unique=False)
    op.create_table(
        "postmortem_star",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("postmortem_id", sa.Integer(), nullable=False),
        sa.Column("person", sa.String(length=100), nullable=False),
        sa.Column("starred_at", commandpost.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["postmortem_id"], ["postmortem.id"], name=op.f("fk_postmortem_star_postmortem_id_postmortem")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postmortem_star")),
        sa.UniqueConstraint("postmortem_id", "person", name=op.f("uq_postmortem_star_postmortem_id")),
    )
    with op.batch_alter_table("postmortem_star", schema=None) as batch_op:
        batch_op.create_index("ix_postmortem_star_starred_at", ["starred_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("postmortem_star", schema=None) as batch_op:
        batch_op.drop_index("ix_postmortem_star_starred_at")
    op.drop_table("postmortem_star")
    with op.batch_alter_table("drill_prompt", schema=None) as batch_op:
        batch_op.drop_index("ix_drill_prompt_drill_id")
        batch_op.drop_index("ix_drill_prompt_due_at")
    op.drop_table("drill_prompt")
    with op.batch_alter_table("drill", schema=None) as batch_op:
        batch_op.drop_index("ix_drill_source_id")
    op.drop_table("drill")
