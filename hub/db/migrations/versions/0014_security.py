"""security: encrypted idempotent answers, SMS budgets per venue and program, venues' personal data cap

Revision ID: 0014_security
Revises: 0011_stats
Create Date: 2026-11-27 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hub.db.base


revision: str = '0014_security'
down_revision: str | None = '0011_stats'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('idempotency_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('response_ciphertext', sa.LargeBinary(), nullable=True))
    with op.batch_alter_table('sms_sends', schema=None) as batch_op:
        batch_op.add_column(sa.Column('venue_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('program_id', sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_sms_sends_venue_id_venues'), 'venues', ['venue_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_sms_sends_program_id_programs'), 'programs', ['program_id'], ['id'])
        batch_op.create_index('ix_sms_sends_venue_created', ['venue_id', 'created_at'], unique=False)
        batch_op.create_index('ix_sms_sends_program_created', ['program_id', 'created_at'], unique=False)
    with op.batch_alter_table('programs', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('venue_personal_data_max', sa.String(length=8), server_default='masked', nullable=False)
        )
        batch_op.create_check_constraint(
            'venue_personal_data_max', "venue_personal_data_max IN ('none', 'masked', 'full')"
        )
    # the sends already logged count against the new budgets too
    op.execute(
        "UPDATE sms_sends SET"
        " venue_id = (SELECT terminals.venue_id FROM terminals WHERE terminals.id = sms_sends.terminal_id),"
        " program_id = (SELECT pin_challenges.program_id FROM pin_challenges"
        " WHERE pin_challenges.id = sms_sends.challenge_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table('programs', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_programs_venue_personal_data_max'), type_='check')
        batch_op.drop_column('venue_personal_data_max')
    with op.batch_alter_table('sms_sends', schema=None) as batch_op:
        batch_op.drop_index('ix_sms_sends_program_created')
        batch_op.drop_index('ix_sms_sends_venue_created')
        batch_op.drop_constraint(batch_op.f('fk_sms_sends_program_id_programs'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_sms_sends_venue_id_venues'), type_='foreignkey')
        batch_op.drop_column('program_id')
        batch_op.drop_column('venue_id')
    with op.batch_alter_table('idempotency_records', schema=None) as batch_op:
        batch_op.drop_column('response_ciphertext')
