"""understanding: faces, people, entities, tag changes, topics, embeddings, safety scores

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('thumb_sha', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('named_by', sa.String(length=100), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('updated_at', _TZ, nullable=True))
        batch_op.add_column(sa.Column('face_count', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('centroid', sa.LargeBinary(), nullable=True))
        batch_op.create_index(batch_op.f('ix_person_thumb_sha'), ['thumb_sha'], unique=False)

    op.create_table('face',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('shot_seq', sa.Integer(), nullable=True),
    sa.Column('time', sa.Float(), nullable=True),
    sa.Column('x', sa.Integer(), nullable=False),
    sa.Column('y', sa.Integer(), nullable=False),
    sa.Column('w', sa.Integer(), nullable=False),
    sa.Column('h', sa.Integer(), nullable=False),
    sa.Column('frame_width', sa.Integer(), nullable=True),
    sa.Column('frame_height', sa.Integer(), nullable=True),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('descriptor', sa.LargeBinary(), nullable=True),
    sa.Column('model', sa.String(length=100), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('pinned', sa.Boolean(), nullable=False),
    sa.Column('thumb_sha', sa.String(length=64), nullable=True),
    sa.Column('created_at', _TZ, nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['asset.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('face', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_face_asset_id'), ['asset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_face_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_face_thumb_sha'), ['thumb_sha'], unique=False)

    op.create_table('entity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('segment_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('text', sa.String(length=500), nullable=False),
    sa.Column('norm', sa.String(length=500), nullable=False),
    sa.Column('char_start', sa.Integer(), nullable=True),
    sa.Column('char_end', sa.Integer(), nullable=True),
    sa.Column('start', sa.Float(), nullable=True),
    sa.Column('end', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['asset_id'], ['asset.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['segment_id'], ['segment.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('entity', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_entity_asset_id'), ['asset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_entity_segment_id'), ['segment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_entity_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_entity_norm'), ['norm'], unique=False)

    op.create_table('tag_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('tag', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=8), nullable=False),
    sa.Column('origin', sa.String(length=32), nullable=False),
    sa.Column('who', sa.String(length=100), nullable=False),
    sa.Column('at', _TZ, nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['asset.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('tag_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tag_change_asset_id'), ['asset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tag_change_at'), ['at'], unique=False)

    op.create_table('topic',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('name_en', sa.String(length=100), nullable=False),
    sa.Column('keywords', sa.JSON(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('updated_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', _TZ, nullable=False),
    sa.Column('updated_at', _TZ, nullable=True),
    sa.ForeignKeyConstraint(['parent_id'], ['topic.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )

    op.create_table('embedding',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_kind', sa.String(length=16), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('segment_id', sa.Integer(), nullable=True),
    sa.Column('model', sa.String(length=100), nullable=False),
    sa.Column('dim', sa.Integer(), nullable=False),
    sa.Column('vector', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', _TZ, nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['asset.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['segment_id'], ['segment.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('owner_kind', 'owner_id', 'model', name='uq_embedding_owner_model')
    )
    with op.batch_alter_table('embedding', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_embedding_asset_id'), ['asset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_embedding_segment_id'), ['segment_id'], unique=False)
        batch_op.create_index('ix_embedding_model_kind', ['model', 'owner_kind'], unique=False)

    op.create_table('safety_score',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('shot_seq', sa.Integer(), nullable=True),
    sa.Column('time', sa.Float(), nullable=True),
    sa.Column('scores', sa.JSON(), nullable=False),
    sa.Column('max_score', sa.Float(), nullable=False),
    sa.Column('model', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['asset.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('safety_score', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_safety_score_asset_id'), ['asset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_safety_score_max_score'), ['max_score'], unique=False)


def downgrade() -> None:
    for table, indexes in (
        ('safety_score', ['ix_safety_score_max_score', 'ix_safety_score_asset_id']),
        ('embedding', ['ix_embedding_model_kind', 'ix_embedding_segment_id', 'ix_embedding_asset_id']),
        ('topic', []),
        ('tag_change', ['ix_tag_change_at', 'ix_tag_change_asset_id']),
        ('entity', ['ix_entity_norm', 'ix_entity_kind', 'ix_entity_segment_id', 'ix_entity_asset_id']),
        ('face', ['ix_face_thumb_sha', 'ix_face_person_id', 'ix_face_asset_id']),
    ):
        if indexes:
            with op.batch_alter_table(table, schema=None) as batch_op:
                for ix in indexes:
                    batch_op.drop_index(ix)
        op.drop_table(table)
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_person_thumb_sha'))
        batch_op.drop_column('centroid')
        batch_op.drop_column('face_count')
        batch_op.drop_column('updated_at')
        batch_op.drop_column('named_by')
        batch_op.drop_column('thumb_sha')
