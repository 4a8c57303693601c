"""merge the domain branches into one head

Revision ID: 0019
Revises: 0007, 0017, 0018

Domains added their tables on branches from the foundation; three heads were left (postmortems
0007, incidents 0018, web users 0017), so ``alembic upgrade head`` refused to choose. This merge
changes no table: a database at any of those heads, or at all three, upgrades to it unchanged.
Every new migration chains from the single head (docs/operations.md "Schema upgrades").
Create Date: 2026-12-07 14:00:00.000000
"""

from collections.abc import Sequence

revision: str = "0019"
down_revision: str | tuple[str, ...] | None = ("0007", "0017", "0018")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
