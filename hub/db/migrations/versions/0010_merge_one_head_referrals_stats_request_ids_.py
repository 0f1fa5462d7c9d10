"""one head: referrals, stats, request ids and audit, limits, web sessions

Revision ID: 0010_merge
Revises: 0004_referrals, 0005_stats, 0007_request_id, 0008_limits, 0009_web_sessions
Create Date: 2026-11-25 13:23:24.454156
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hub.db.base


revision: str = '0010_merge'
down_revision: str | Sequence[str] | None = ('0004_referrals', '0005_stats', '0007_request_id', '0008_limits', '0009_web_sessions')
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
