"""audit entries append-only: triggers refuse UPDATE and DELETE (and TRUNCATE)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 10:35:00
"""

from __future__ import annotations

from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

# The same statements as archive.models.AUDIT_APPEND_ONLY (copied: a migration must not
# change when the models do).
TRIGGERS = {
    "sqlite": [
        "CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries "
        "BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END",
        "CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries "
        "BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION audit_entries_append_only() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION 'audit entries are append-only'; END $$",
        "CREATE TRIGGER audit_entries_no_change BEFORE UPDATE OR DELETE ON audit_entries "
        "FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only()",
        "CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_append_only()",
    ],
}
DROP = {
    "sqlite": ["DROP TRIGGER IF EXISTS audit_entries_no_update",
               "DROP TRIGGER IF EXISTS audit_entries_no_delete"],
    "postgresql": ["DROP TRIGGER IF EXISTS audit_entries_no_change ON audit_entries",
                   "DROP TRIGGER IF EXISTS audit_entries_no_truncate ON audit_entries",
                   "DROP FUNCTION IF EXISTS audit_entries_append_only()"],
}


def upgrade() -> None:
    for statement in TRIGGERS.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def downgrade() -> None:
    for statement in DROP.get(op.get_bind().dialect.name, []):
        op.execute(statement)
