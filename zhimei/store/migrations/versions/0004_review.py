"""review queue: cases, decisions, the hash-chained audit log and its head

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)
_APPEND_ONLY = "audit_entry is append-only: entries cannot be changed or deleted"
_SQLITE_TRIGGERS = [
    f"CREATE TRIGGER audit_entry_no_{op_} BEFORE {op_.upper()} ON audit_entry "
    f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY}'); END"
    for op_ in ("update", "delete")
]
_PG_TRIGGERS = [
    "CREATE OR REPLACE FUNCTION zhimei_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    f"BEGIN RAISE EXCEPTION '{_APPEND_ONLY}'; END $$",
    "CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_entry "
    "FOR EACH ROW EXECUTE FUNCTION zhimei_audit_append_only()",
]


def upgrade() -> None:
    op.create_table('review_case',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('strict', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('tier', sa.String(length=16), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('flags', sa.JSON(), nullable=False),
    sa.Column('model_version', sa.String(length=100), nullable=True),
    sa.Column('priority', sa.Float(), nullable=False),
    sa.Column('expected_reach', sa.BigInteger(), nullable=False),
    sa.Column('assignee', sa.String(length=100), nullable=True),
    sa.Column('second_reviewer_required', sa.Boolean(), nullable=False),
    sa.Column('due_at', _TZ, nullable=False),
    sa.Column('opened_by', sa.String(length=100), nullable=False),
    sa.Column('decided_at', _TZ, nullable=True),
    sa.Column('created_at', _TZ, nullable=False),
    sa.Column('updated_at', _TZ, nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['asset.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('asset_id', 'version', 'channel', name='uq_review_case_version')
    )
    with op.batch_alter_table('review_case', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_case_asset_id'), ['asset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_case_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_case_priority'), ['priority'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_case_assignee'), ['assignee'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_case_due_at'), ['due_at'], unique=False)

    op.create_table('review_decision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('reviewer', sa.String(length=100), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('at', _TZ, nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['review_case.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('review_decision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_decision_case_id'), ['case_id'], unique=False)

    op.create_table('audit_entry',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', _TZ, nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq'),
    sa.UniqueConstraint('hash')
    )
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_entry_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_entry_subject'), ['subject'], unique=False)

    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('updated_at', _TZ, nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    for sql in (_SQLITE_TRIGGERS if op.get_context().dialect.name == "sqlite" else _PG_TRIGGERS):
        op.execute(sql)


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_entry_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_entry_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_entry_append_only ON audit_entry")
        op.execute("DROP FUNCTION IF EXISTS zhimei_audit_append_only()")
    op.drop_table('audit_head')
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_entry_subject'))
        batch_op.drop_index(batch_op.f('ix_audit_entry_action'))
    op.drop_table('audit_entry')
    with op.batch_alter_table('review_decision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_decision_case_id'))
    op.drop_table('review_decision')
    with op.batch_alter_table('review_case', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_case_due_at'))
        batch_op.drop_index(batch_op.f('ix_review_case_assignee'))
        batch_op.drop_index(batch_op.f('ix_review_case_priority'))
        batch_op.drop_index(batch_op.f('ix_review_case_status'))
        batch_op.drop_index(batch_op.f('ix_review_case_asset_id'))
    op.drop_table('review_case')
