"""insight: analysed items, stories, watchlists and alerts

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('insight_story',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=1000), nullable=False),
    sa.Column('terms', sa.JSON(), nullable=False),
    sa.Column('entities', sa.JSON(), nullable=False),
    sa.Column('item_count', sa.Integer(), nullable=False),
    sa.Column('source_count', sa.Integer(), nullable=False),
    sa.Column('volume', sa.Integer(), nullable=False),
    sa.Column('previous_volume', sa.Integer(), nullable=False),
    sa.Column('growth', sa.Float(), nullable=False),
    sa.Column('burst', sa.Float(), nullable=False),
    sa.Column('engagement', sa.Float(), nullable=False),
    sa.Column('heat', sa.Float(), nullable=False),
    sa.Column('components', sa.JSON(), nullable=False),
    sa.Column('sentiment', sa.Float(), nullable=True),
    sa.Column('negative_share', sa.Float(), nullable=True),
    sa.Column('first_at', _TZ, nullable=True),
    sa.Column('last_at', _TZ, nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('computed_at', _TZ, nullable=False),
    sa.Column('created_at', _TZ, nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('insight_story', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_insight_story_heat'), ['heat'], unique=False)
        batch_op.create_index(batch_op.f('ix_insight_story_last_at'), ['last_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_insight_story_active'), ['active'], unique=False)

    op.create_table('insight_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('at', _TZ, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=500), nullable=False),
    sa.Column('title', sa.String(length=1000), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('terms', sa.JSON(), nullable=False),
    sa.Column('entities', sa.JSON(), nullable=False),
    sa.Column('sentiment', sa.Float(), nullable=True),
    sa.Column('sentiment_model', sa.String(length=100), nullable=False),
    sa.Column('story_id', sa.Integer(), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('analysed_at', _TZ, nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['asset.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['story_id'], ['insight_story.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('asset_id', name='uq_insight_item_asset')
    )
    with op.batch_alter_table('insight_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_insight_item_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_insight_item_story_id'), ['story_id'], unique=False)

    op.create_table('insight_watchlist',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('terms', sa.JSON(), nullable=False),
    sa.Column('webhook_url', sa.String(length=2000), nullable=False),
    sa.Column('secret', sa.String(length=200), nullable=False),
    sa.Column('window_hours', sa.Float(), nullable=False),
    sa.Column('baseline_windows', sa.Integer(), nullable=False),
    sa.Column('volume_factor', sa.Float(), nullable=False),
    sa.Column('min_volume', sa.Integer(), nullable=False),
    sa.Column('negative_jump', sa.Float(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', _TZ, nullable=False),
    sa.Column('updated_at', _TZ, nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )

    op.create_table('insight_alert',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('watchlist_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('window_start', _TZ, nullable=False),
    sa.Column('window_end', _TZ, nullable=False),
    sa.Column('volume', sa.Integer(), nullable=False),
    sa.Column('baseline', sa.Float(), nullable=False),
    sa.Column('negative_share', sa.Float(), nullable=True),
    sa.Column('baseline_negative', sa.Float(), nullable=True),
    sa.Column('asset_ids', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('response_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('delivered_at', _TZ, nullable=True),
    sa.Column('created_at', _TZ, nullable=False),
    sa.ForeignKeyConstraint(['watchlist_id'], ['insight_watchlist.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('watchlist_id', 'reason', 'window_start', name='uq_insight_alert_window')
    )
    with op.batch_alter_table('insight_alert', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_insight_alert_watchlist_id'), ['watchlist_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_insight_alert_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_insight_alert_created_at'), ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('insight_alert', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_insight_alert_created_at'))
        batch_op.drop_index(batch_op.f('ix_insight_alert_status'))
        batch_op.drop_index(batch_op.f('ix_insight_alert_watchlist_id'))
    op.drop_table('insight_alert')
    op.drop_table('insight_watchlist')
    with op.batch_alter_table('insight_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_insight_item_story_id'))
        batch_op.drop_index(batch_op.f('ix_insight_item_at'))
    op.drop_table('insight_item')
    with op.batch_alter_table('insight_story', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_insight_story_active'))
        batch_op.drop_index(batch_op.f('ix_insight_story_last_at'))
        batch_op.drop_index(batch_op.f('ix_insight_story_heat'))
    op.drop_table('insight_story')
