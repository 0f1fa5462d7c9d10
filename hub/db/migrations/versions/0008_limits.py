"""limits: rate-limit windows, erased members, retention indexes

Revision ID: 0008_limits
Revises: 0003
Create Date: 2026-11-26 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hub.db.base


revision: str = '0008_limits'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('rate_limit_windows',
    sa.Column('subject', sa.String(length=64), nullable=False),
    sa.Column('window', sa.BigInteger(), nullable=False),
    sa.Column('hits', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('subject', 'window', name=op.f('pk_rate_limit_windows'))
    )
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('erased_at', hub.db.base.UtcDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('pin_challenges', schema=None) as batch_op:
        batch_op.create_index('ix_pin_challenges_created_at', ['created_at'], unique=False)
    with op.batch_alter_table('sms_sends', schema=None) as batch_op:
        batch_op.create_index('ix_sms_sends_created_at', ['created_at'], unique=False)
    with op.batch_alter_table('idempotency_records', schema=None) as batch_op:
        batch_op.create_index('ix_idempotency_records_created_at', ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('idempotency_records', schema=None) as batch_op:
        batch_op.drop_index('ix_idempotency_records_created_at')
    with op.batch_alter_table('sms_sends', schema=None) as batch_op:
        batch_op.drop_index('ix_sms_sends_created_at')
    with op.batch_alter_table('pin_challenges', schema=None) as batch_op:
        batch_op.drop_index('ix_pin_challenges_created_at')
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_column('erased_at')
    op.drop_table('rate_limit_windows')
