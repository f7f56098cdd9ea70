"""desk: desks, members, item stages, locks and history

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('desk',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('description', sa.String(length=2000), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', _TZ, nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )

    op.create_table('desk_member',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('desk_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('added_by', sa.String(length=100), nullable=False),
    sa.Column('added_at', _TZ, nullable=False),
    sa.ForeignKeyConstraint(['desk_id'], ['desk.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('desk_id', 'name', name='uq_desk_member_name')
    )

    op.create_table('desk_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('desk_id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=1000), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('assignee', sa.String(length=100), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('lock_holder', sa.String(length=100), nullable=True),
    sa.Column('lock_token', sa.String(length=64), nullable=True),
    sa.Column('lock_expires_at', _TZ, nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', _TZ, nullable=False),
    sa.Column('updated_at', _TZ, nullable=False),
    sa.Column('stage_at', _TZ, nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['asset.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['desk_id'], ['desk.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('asset_id')
    )
    with op.batch_alter_table('desk_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_desk_item_assignee'), ['assignee'], unique=False)
        batch_op.create_index('ix_desk_item_desk_stage', ['desk_id', 'stage'], unique=False)

    op.create_table('desk_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('desk_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('at', _TZ, nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['desk_id'], ['desk.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['item_id'], ['desk_item.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('desk_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_desk_event_desk_id'), ['desk_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_desk_event_item_id'), ['item_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('desk_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_desk_event_item_id'))
        batch_op.drop_index(batch_op.f('ix_desk_event_desk_id'))
    op.drop_table('desk_event')
    with op.batch_alter_table('desk_item', schema=None) as batch_op:
        batch_op.drop_index('ix_desk_item_desk_stage')
        batch_op.drop_index(batch_op.f('ix_desk_item_assignee'))
    op.drop_table('desk_item')
    op.drop_table('desk_member')
    op.drop_table('desk')
