"""money: refunds return the bonus paid, closed settlement months, late receipts, attempt numbering

Revision ID: 0012_money
Revises: 0014_security
Create Date: 2026-11-27 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import hub.db.base


revision: str = '0012_money'
down_revision: str | None = '0014_security'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _add_counter(table: str, column: str) -> None:
    """A NOT NULL integer column, 0 for the rows already there."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.add_column(sa.Column(column, sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.alter_column(column, server_default=None)


def upgrade() -> None:
    _add_counter('receipts', 'refunded_bonus_minor')
    _add_counter('refunds', 'bonus_returned_minor')
    _add_counter('deliveries', 'attempt_offset')
    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('settlement_period', sa.String(length=7), nullable=True))
    op.create_table('settlement_closes',
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('closed_at', hub.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('closed_by_role', sa.String(length=16), nullable=False),
    sa.Column('closed_by_key_id', sa.Uuid(), nullable=True),
    sa.Column('lines', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('period', name=op.f('pk_settlement_closes'))
    )


def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_column('attempt_offset')
    op.drop_table('settlement_closes')
    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.drop_column('settlement_period')
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_column('bonus_returned_minor')
    with op.batch_alter_table('receipts', schema=None) as batch_op:
        batch_op.drop_column('refunded_bonus_minor')
