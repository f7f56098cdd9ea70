"""distribute: engagement events, counters, experiments, readers and consent

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('reader',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pseudonym', sa.String(length=64), nullable=False),
    sa.Column('consent', sa.Boolean(), nullable=False),
    sa.Column('consent_at', _TZ, nullable=True),
    sa.Column('created_at', _TZ, nullable=False),
    sa.Column('last_seen_at', _TZ, nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('pseudonym')
    )

    op.create_table('reader_interaction',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reader_id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('weight', sa.Float(), nullable=False),
    sa.Column('impressions', sa.Integer(), nullable=False),
    sa.Column('clicks', sa.Integer(), nullable=False),
    sa.Column('plays', sa.Integer(), nullable=False),
    sa.Column('shares', sa.Integer(), nullable=False),
    sa.Column('watch_seconds', sa.Float(), nullable=False),
    sa.Column('dwell_seconds', sa.Float(), nullable=False),
    sa.Column('first_at', _TZ, nullable=False),
    sa.Column('last_at', _TZ, nullable=False),
    sa.ForeignKeyConstraint(['reader_id'], ['reader.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['asset_id'], ['asset.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('reader_id', 'asset_id', name='uq_reader_interaction')
    )
    with op.batch_alter_table('reader_interaction', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reader_interaction_asset_id'), ['asset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reader_interaction_last_at'), ['last_at'], unique=False)

    op.create_table('engagement_counter',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('grain', sa.String(length=8), nullable=False),
    sa.Column('bucket_start', _TZ, nullable=False),
    sa.Column('impressions', sa.BigInteger(), nullable=False),
    sa.Column('clicks', sa.BigInteger(), nullable=False),
    sa.Column('plays', sa.BigInteger(), nullable=False),
    sa.Column('shares', sa.BigInteger(), nullable=False),
    sa.Column('watch_seconds', sa.Float(), nullable=False),
    sa.Column('dwell_seconds', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['asset.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('asset_id', 'channel', 'grain', 'bucket_start', name='uq_engagement_counter_bucket')
    )
    with op.batch_alter_table('engagement_counter', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_engagement_counter_bucket_start'), ['bucket_start'], unique=False)
        batch_op.create_index('ix_engagement_counter_grain_bucket', ['grain', 'bucket_start'], unique=False)

    op.create_table('event_seen',
    sa.Column('key', sa.String(length=32), nullable=False),
    sa.Column('seen_at', _TZ, nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('event_seen', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_seen_seen_at'), ['seen_at'], unique=False)

    op.create_table('experiment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('auto_promote', sa.Boolean(), nullable=False),
    sa.Column('min_impressions', sa.Integer(), nullable=False),
    sa.Column('winner_variant_id', sa.Integer(), nullable=True),
    sa.Column('promoted_by', sa.String(length=100), nullable=True),
    sa.Column('promoted_at', _TZ, nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', _TZ, nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['asset.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('experiment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_experiment_asset_id'), ['asset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_experiment_status'), ['status'], unique=False)

    op.create_table('experiment_variant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('experiment_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=8), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('cover_asset_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('impressions', sa.BigInteger(), nullable=False),
    sa.Column('clicks', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['experiment_id'], ['experiment.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['cover_asset_id'], ['asset.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('experiment_id', 'seq', name='uq_experiment_variant_seq')
    )
    with op.batch_alter_table('experiment_variant', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_experiment_variant_experiment_id'), ['experiment_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('experiment_variant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_experiment_variant_experiment_id'))
    op.drop_table('experiment_variant')
    with op.batch_alter_table('experiment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_experiment_status'))
        batch_op.drop_index(batch_op.f('ix_experiment_asset_id'))
    op.drop_table('experiment')
    with op.batch_alter_table('event_seen', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_seen_seen_at'))
    op.drop_table('event_seen')
    with op.batch_alter_table('engagement_counter', schema=None) as batch_op:
        batch_op.drop_index('ix_engagement_counter_grain_bucket')
        batch_op.drop_index(batch_op.f('ix_engagement_counter_bucket_start'))
    op.drop_table('engagement_counter')
    with op.batch_alter_table('reader_interaction', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reader_interaction_last_at'))
        batch_op.drop_index(batch_op.f('ix_reader_interaction_asset_id'))
    op.drop_table('reader_interaction')
    op.drop_table('reader')
