"""statistics count verified visits: stats_daily.checked; a visit can be cancelled; items by quantity

Revision ID: 0011_stats
Revises: 0010_merge
Create Date: 2026-11-26 10:00:00.000000

The rollups now count a visit when it is verified (on the venue-local day of verification) and its
receipt on that same day: after this upgrade run `coalition-hub stats rebuild` once, so the rows
written before it (which counted a visit only with its receipt, on the receipt's day) are recomputed.
A receipt's item_count now counts items by quantity (3 x a dish is 3; a line sold by weight is 1), not
lines: the receipts kept are recounted from their lines here (downgrade counts lines again).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hub.db.base


revision: str = '0011_stats'
down_revision: str | Sequence[str] | None = '0010_merge'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# items by quantity: a whole quantity counts as itself, any other (0.35 kg) as one item
_ITEMS_BY_QUANTITY = {
    'postgresql': """
        UPDATE receipts SET item_count = (
            SELECT COALESCE(SUM(CASE WHEN q = trunc(q) THEN q::bigint ELSE 1 END), 0)
            FROM (SELECT (line->>'quantity')::numeric AS q FROM jsonb_array_elements(lines) AS line) AS x
        )
    """,
    'sqlite': """
        UPDATE receipts SET item_count = (
            SELECT COALESCE(SUM(CASE WHEN q = CAST(q AS INTEGER) THEN CAST(q AS INTEGER) ELSE 1 END), 0)
            FROM (SELECT CAST(json_extract(value, '$.quantity') AS REAL) AS q FROM json_each(receipts.lines))
        )
    """,
}
_ITEMS_BY_LINE = {
    'postgresql': "UPDATE receipts SET item_count = jsonb_array_length(lines)",
    'sqlite': "UPDATE receipts SET item_count = json_array_length(lines)",
}


def upgrade() -> None:
    op.execute(_ITEMS_BY_QUANTITY[op.get_bind().dialect.name])
    with op.batch_alter_table('stats_daily', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checked', sa.BigInteger(), nullable=False, server_default='0'))
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancelled_at', hub.db.base.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('cancel_reason', sa.String(length=500), nullable=True))
        batch_op.drop_constraint(op.f('ck_visits_status'), type_='check')
        batch_op.create_check_constraint('status', "status IN ('open', 'closed', 'cancelled')")


def downgrade() -> None:
    op.execute(_ITEMS_BY_LINE[op.get_bind().dialect.name])
    op.execute("UPDATE visits SET status = 'closed' WHERE status = 'cancelled'")
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_visits_status'), type_='check')
        batch_op.create_check_constraint('status', "status IN ('open', 'closed')")
        batch_op.drop_column('cancel_reason')
        batch_op.drop_column('cancelled_at')
    with op.batch_alter_table('stats_daily', schema=None) as batch_op:
        batch_op.drop_column('checked')
