"""The hash-chained audit log: appends are serialised and gap-free under concurrency, the database refuses
UPDATE/DELETE, and `verify_audit` / `zhimei audit verify` / GET /api/audit/verify detect an edited row, a deleted
row, reordered or swapped hashes, a re-hashed forgery and deleted newest entries, naming the first broken seq."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from zhimei.cli import app
from zhimei.review.queue import GENESIS, append_audit, list_audit, verify_audit
from zhimei.review.queue.audit import entry_hash
from zhimei.store.db import get_engine, session_scope


def fill(n: int = 5) -> None:
    for i in range(1, n + 1):
        with session_scope() as s:
            append_audit(s, f"user{i % 2}", "test.action", f"thing:{i}", {"i": i, "text": "审核 ✓", "x": 0.1 * i})


def raw(sql: str, **params) -> None:
    """A statement straight to the database, as someone with database access would do it."""
    with get_engine().begin() as conn:
        conn.execute(text(sql), params)


@pytest.fixture
def unguarded(zhome):
    """The append-only triggers switched off, to play the attacker who went around them."""
    dialect = get_engine().dialect.name
    if dialect == "sqlite":
        raw("DROP TRIGGER audit_entry_no_update")
        raw("DROP TRIGGER audit_entry_no_delete")
    else:
        raw("ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_append_only")
    yield
    if dialect == "postgresql":
        raw("ALTER TABLE audit_entry ENABLE TRIGGER audit_entry_append_only")


def test_an_untouched_chain_verifies(zhome):
    assert verify_audit().ok and verify_audit().entries == 0
    fill(5)
    rep = verify_audit()
    assert rep.ok and rep.entries == 5 and rep.head_seq == 5 and rep.broken_seq is None
    items = list_audit()["items"]
    assert [e["seq"] for e in items] == [5, 4, 3, 2, 1]
    assert items[-1]["prev_hash"] == GENESIS and items[0]["hash"] == rep.head_hash
    assert items[0]["payload"] == {"i": 5, "text": "审核 ✓", "x": 0.5}
    assert all(a["prev_hash"] == b["hash"] for a, b in zip(items, items[1:], strict=False))


def test_the_database_refuses_updates_and_deletes(zhome):
    fill(2)
    for sql in ("UPDATE audit_entry SET actor = 'mallory' WHERE seq = 1", "DELETE FROM audit_entry WHERE seq = 2"):
        with pytest.raises(DBAPIError, match="append-only"):
            raw(sql)
    assert verify_audit().ok


def test_an_edited_row_is_detected(unguarded):
    fill(5)
    raw("UPDATE audit_entry SET payload = :p WHERE seq = 3", p='{"i":3,"text":"审核 ✓","x":0.30000000000000004,"y":1}')
    rep = verify_audit()
    assert not rep.ok and rep.broken_seq == 3 and "seq 3 was altered" in rep.problem
    assert "BROKEN at seq 3" in str(rep)


def test_an_edited_actor_or_time_is_detected(unguarded):
    fill(4)
    raw("UPDATE audit_entry SET actor = 'mallory' WHERE seq = 2")
    assert verify_audit().broken_seq == 2


def test_a_deleted_row_is_detected(unguarded):
    fill(5)
    raw("DELETE FROM audit_entry WHERE seq = 2")
    rep = verify_audit()
    assert not rep.ok and rep.broken_seq == 2 and "missing (deleted)" in rep.problem


def test_deleted_newest_rows_are_detected_by_the_head(unguarded):
    fill(5)
    raw("DELETE FROM audit_entry WHERE seq >= 4")
    rep = verify_audit()
    assert not rep.ok and rep.broken_seq == 4 and "4–5 are missing" in rep.problem
    with session_scope() as s:  # appends keep counting from the head: the gap stays visible
        assert append_audit(s, "x", "test.action", "thing:6").seq == 6
    assert verify_audit().broken_seq == 4


def test_swapped_hashes_and_reordered_rows_are_detected(unguarded):
    fill(5)
    with get_engine().begin() as conn:
        h2, h3 = (conn.execute(text("SELECT hash FROM audit_entry WHERE seq = :s"), {"s": s}).scalar_one()
                  for s in (2, 3))
        conn.execute(text("UPDATE audit_entry SET hash = 'tmp' WHERE seq = 3"))
        conn.execute(text("UPDATE audit_entry SET hash = :h WHERE seq = 2"), {"h": h3})
        conn.execute(text("UPDATE audit_entry SET hash = :h WHERE seq = 3"), {"h": h2})
    rep = verify_audit()
    assert not rep.ok and rep.broken_seq == 2
    # put the hashes back, then swap two whole rows' places (their seq numbers)
    with get_engine().begin() as conn:
        conn.execute(text("UPDATE audit_entry SET hash = 'tmp' WHERE seq = 3"))
        conn.execute(text("UPDATE audit_entry SET hash = :h WHERE seq = 2"), {"h": h2})
        conn.execute(text("UPDATE audit_entry SET hash = :h WHERE seq = 3"), {"h": h3})
    assert verify_audit().ok
    with get_engine().begin() as conn:
        conn.execute(text("UPDATE audit_entry SET seq = 100 WHERE seq = 4"))
        conn.execute(text("UPDATE audit_entry SET seq = 4 WHERE seq = 3"))
        conn.execute(text("UPDATE audit_entry SET seq = 3 WHERE seq = 100"))
    rep = verify_audit()
    assert not rep.ok and rep.broken_seq == 3 and "altered" in rep.problem


def test_a_rehashed_forgery_breaks_the_next_link(unguarded):
    """Editing a row and recomputing its own hash still breaks the chain at the following entry."""
    fill(5)
    with get_engine().begin() as conn:
        row = conn.execute(text("SELECT seq, at, actor, action, subject, payload, prev_hash FROM audit_entry "
                                "WHERE seq = 2")).one()
    from zhimei.store.db import read_scope
    from zhimei.store.models import AuditEntry

    with read_scope() as s:
        at = s.get(AuditEntry, 2).at
    forged = entry_hash(2, at, "mallory", row.action, row.subject, row.payload, row.prev_hash)
    raw("UPDATE audit_entry SET actor = 'mallory', hash = :h WHERE seq = 2", h=forged)
    rep = verify_audit()
    assert not rep.ok and rep.broken_seq == 3 and "does not follow seq 2" in rep.problem


def test_concurrent_appends_stay_one_gap_free_chain(zhome):
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(8):
                with session_scope() as s:
                    append_audit(s, f"t{n}", "test.concurrent", f"thing:{n}:{i}", {"n": n, "i": i})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rep = verify_audit()
    assert rep.ok and rep.entries == 32 and rep.head_seq == 32


def test_cli_and_api_report_the_broken_seq(unguarded, client, tokens):
    fill(3)
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify", "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["ok"] is True
    h = {"Authorization": f"Bearer {tokens['reviewer']}"}
    assert client.get("/api/audit/verify", headers=h).json()["ok"] is True
    raw("UPDATE audit_entry SET subject = 'thing:x' WHERE seq = 2")
    bad = runner.invoke(app, ["audit", "verify"])
    assert bad.exit_code == 1 and "BROKEN at seq 2" in bad.output
    js = runner.invoke(app, ["audit", "verify", "--json"])
    assert js.exit_code == 1 and json.loads(js.stdout)["broken_seq"] == 2
    body = client.get("/api/audit/verify", headers=h).json()
    assert body["ok"] is False and body["broken_seq"] == 2 and "altered" in body["problem"]
    page = client.get("/review/audit", headers=h)
    assert page.status_code == 200 and 'data-ok="0"' in page.text and "BROKEN at seq 2" in page.text
    assert client.get("/api/audit", headers={"Authorization": f"Bearer {tokens['viewer']}"}).status_code == 403
    log = runner.invoke(app, ["audit", "log", "--json", "--limit", "2"])
    assert log.exit_code == 0 and [e["seq"] for e in json.loads(log.stdout)["items"]] == [3, 2]
