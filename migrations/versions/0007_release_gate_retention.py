"""release gate (claim window skip, self-check override) and retention settings

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 11:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purge_masters_after_days', sa.Integer(), nullable=True,
                                      server_default='30'))
        batch_op.add_column(sa.Column('purge_rejected', sa.Boolean(), nullable=False,
                                      server_default=sa.true()))

    with op.batch_alter_table('photos', schema=None) as batch_op:
        batch_op.add_column(sa.Column('self_check_boxes', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('self_check_override', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('window_skip_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('master_purged_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('photos', schema=None) as batch_op:
        batch_op.drop_column('master_purged_at')
        batch_op.drop_column('window_skip_reason')
        batch_op.drop_column('self_check_override')
        batch_op.drop_column('self_check_boxes')

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_column('purge_rejected')
        batch_op.drop_column('purge_masters_after_days')
