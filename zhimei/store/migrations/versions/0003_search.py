"""search: search documents with a full-text index (FTS5 / tsvector), source credibility

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)

_SQLITE_FTS = [
    "CREATE VIRTUAL TABLE search_fts USING fts5(tokens, content='search_doc', content_rowid='id', "
    "tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER search_doc_ai AFTER INSERT ON search_doc BEGIN "
    "INSERT INTO search_fts(rowid, tokens) VALUES (new.id, new.tokens); END",
    "CREATE TRIGGER search_doc_ad AFTER DELETE ON search_doc BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, tokens) VALUES ('delete', old.id, old.tokens); END",
    "CREATE TRIGGER search_doc_au AFTER UPDATE ON search_doc BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, tokens) VALUES ('delete', old.id, old.tokens); "
    "INSERT INTO search_fts(rowid, tokens) VALUES (new.id, new.tokens); END",
]
_PG_FTS = [
    "ALTER TABLE search_doc ADD COLUMN tsv tsvector "
    "GENERATED ALWAYS AS (to_tsvector('english'::regconfig, tokens)) STORED",
    "CREATE INDEX ix_search_doc_tsv ON search_doc USING gin (tsv)",
]


def upgrade() -> None:
    op.create_table('search_doc',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('segment_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('tokens', sa.Text(), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=True),
    sa.Column('start', sa.Float(), nullable=True),
    sa.Column('end', sa.Float(), nullable=True),
    sa.Column('char_start', sa.Integer(), nullable=True),
    sa.Column('char_end', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['asset_id'], ['asset.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['segment_id'], ['segment.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sqlite_autoincrement=True,
    )
    with op.batch_alter_table('search_doc', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_search_doc_asset_id'), ['asset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_search_doc_segment_id'), ['segment_id'], unique=False)

    op.create_table('source_credibility',
    sa.Column('source', sa.String(length=500), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('updated_by', sa.String(length=100), nullable=False),
    sa.Column('updated_at', _TZ, nullable=False),
    sa.PrimaryKeyConstraint('source')
    )
    # The full-text index lives outside the ORM (see zhimei.store.models.SearchDoc). Later migrations that
    # alter search_doc on SQLite must recreate these triggers (batch mode copies the table without them).
    statements = _SQLITE_FTS if op.get_context().dialect.name == "sqlite" else _PG_FTS
    for sql in statements:
        op.execute(sql)


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        for name in ("search_doc_ai", "search_doc_ad", "search_doc_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS search_fts")
    op.drop_table('source_credibility')
    with op.batch_alter_table('search_doc', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_search_doc_segment_id'))
        batch_op.drop_index(batch_op.f('ix_search_doc_asset_id'))
    op.drop_table('search_doc')
