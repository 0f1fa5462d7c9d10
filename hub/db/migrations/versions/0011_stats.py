"""statistics count verified visits: stats_daily.checked; a visit can be cancelled

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

import hub.db.base


revision: str = '0011_stats'
down_revision: str | Sequence[str] | None = '0010_merge'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('stats_daily', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checked', sa.BigInteger(), nullable=False, server_default='0'))
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancelled_at', hub.db.base.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('cancel_reason', sa.String(length=500), nullable=True))
        batch_op.drop_constraint(op.f('ck_visits_status'), type_='check')
        batch_op.create_check_constraint('status', "status IN ('open', 'closed', 'cancelled')")


def downgrade() -> None:
    op.execute("UPDATE visits SET status = 'closed' WHERE status = 'cancelled'")
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_visits_status'), type_='check')
        batch_op.create_check_constraint('status', "status IN ('open', 'closed')")
        batch_op.drop_column('cancel_reason')
        batch_op.drop_column('cancelled_at')
    with op.batch_alter_table('stats_daily', schema=None) as batch_op:
        batch_op.drop_column('checked')
