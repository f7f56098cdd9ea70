"""distribute: publishing channels, schedules, deliveries

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('publish_channel',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.Column('secret', sa.String(length=128), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', _TZ, nullable=False),
    sa.Column('updated_at', _TZ, nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name', name='uq_publish_channel_name')
    )

    op.create_table('publication',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('channel_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('review_case_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('publish_at', _TZ, nullable=False),
    sa.Column('embargo_until', _TZ, nullable=True),
    sa.Column('live_from', _TZ, nullable=False),
    sa.Column('went_live_at', _TZ, nullable=True),
    sa.Column('withdrawn_at', _TZ, nullable=True),
    sa.Column('withdraw_reason', sa.Text(), nullable=False),
    sa.Column('title', sa.String(length=1000), nullable=False),
    sa.Column('ai_generated', sa.Boolean(), nullable=False),
    sa.Column('aigc', sa.JSON(), nullable=True),
    sa.Column('content', sa.JSON(), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', _TZ, nullable=False),
    sa.Column('updated_at', _TZ, nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['asset.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['channel_id'], ['publish_channel.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['review_case_id'], ['review_case.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('asset_id', 'channel_id', 'version', name='uq_publication_version')
    )
    with op.batch_alter_table('publication', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_publication_asset_id'), ['asset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_publication_channel_id'), ['channel_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_publication_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_publication_live_from'), ['live_from'], unique=False)
        batch_op.create_index('ix_publication_channel_live', ['channel_id', 'status', 'live_from'], unique=False)

    op.create_table('publish_delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('publication_id', sa.Integer(), nullable=False),
    sa.Column('channel_id', sa.Integer(), nullable=False),
    sa.Column('event', sa.String(length=16), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', _TZ, nullable=True),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('history', sa.JSON(), nullable=False),
    sa.Column('delivered_at', _TZ, nullable=True),
    sa.Column('created_at', _TZ, nullable=False),
    sa.Column('updated_at', _TZ, nullable=False),
    sa.ForeignKeyConstraint(['publication_id'], ['publication.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['channel_id'], ['publish_channel.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key', name='uq_publish_delivery_key'),
    sa.UniqueConstraint('publication_id', 'event', 'revision', name='uq_publish_delivery_event')
    )
    with op.batch_alter_table('publish_delivery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_publish_delivery_publication_id'), ['publication_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_publish_delivery_channel_id'), ['channel_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_publish_delivery_status'), ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('publish_delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_publish_delivery_status'))
        batch_op.drop_index(batch_op.f('ix_publish_delivery_channel_id'))
        batch_op.drop_index(batch_op.f('ix_publish_delivery_publication_id'))
    op.drop_table('publish_delivery')
    with op.batch_alter_table('publication', schema=None) as batch_op:
        batch_op.drop_index('ix_publication_channel_live')
        batch_op.drop_index(batch_op.f('ix_publication_live_from'))
        batch_op.drop_index(batch_op.f('ix_publication_status'))
        batch_op.drop_index(batch_op.f('ix_publication_channel_id'))
        batch_op.drop_index(batch_op.f('ix_publication_asset_id'))
    op.drop_table('publication')
    op.drop_table('publish_channel')
