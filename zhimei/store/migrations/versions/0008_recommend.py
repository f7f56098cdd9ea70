"""distribute: recommendation models, editors' picks, per-channel diversity knobs

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('recommend_model',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('blob_sha', sa.String(length=64), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('neighbour_kind', sa.String(length=16), nullable=False),
    sa.Column('readers', sa.Integer(), nullable=False),
    sa.Column('items', sa.Integer(), nullable=False),
    sa.Column('interactions', sa.BigInteger(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('train_seconds', sa.Float(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('created_at', _TZ, nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('version')
    )
    with op.batch_alter_table('recommend_model', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recommend_model_blob_sha'), ['blob_sha'], unique=False)

    op.create_table('editor_pick',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('starts_at', _TZ, nullable=True),
    sa.Column('ends_at', _TZ, nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', _TZ, nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['asset.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('asset_id', 'channel', name='uq_editor_pick_asset_channel')
    )
    with op.batch_alter_table('editor_pick', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_editor_pick_asset_id'), ['asset_id'], unique=False)

    op.create_table('recommend_channel',
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('diversity', sa.Float(), nullable=False),
    sa.Column('explore_share', sa.Float(), nullable=False),
    sa.Column('updated_by', sa.String(length=100), nullable=False),
    sa.Column('updated_at', _TZ, nullable=False),
    sa.PrimaryKeyConstraint('channel')
    )


def downgrade() -> None:
    op.drop_table('recommend_channel')
    with op.batch_alter_table('editor_pick', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_editor_pick_asset_id'))
    op.drop_table('editor_pick')
    with op.batch_alter_table('recommend_model', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recommend_model_blob_sha'))
    op.drop_table('recommend_model')
