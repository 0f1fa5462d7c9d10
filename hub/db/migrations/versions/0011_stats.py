"""statistics count verified visits: stats_daily.checked

Revision ID: 0011_stats
Revises: 0010_merge
Create Date: 2026-11-26 10:00:00.000000

The rollups now count a visit when it is verified (on the venue-local day of verification) and its
receipt on that same day: after this upgrade run `coalition-hub stats rebuild` once, so the rows
written before it (which counted a visit only with its receipt, on the receipt's day) are recomputed.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0011_stats'
down_revision: str | Sequence[str] | None = '0010_merge'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('stats_daily', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checked', sa.BigInteger(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('stats_daily', schema=None) as batch_op:
        batch_op.drop_column('checked')
