"""隐私 privacy by design: readers stored only as keyed hashes, export of everything held, deletion that empties
the recommendation input now, and the consent flag (off: no personalised data reaches the models) — on the real
database, through the Python functions, the REST API and the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from zhimei.cli import app as cli_app
from zhimei.distribute.engagement import (
    EngagementError,
    counters,
    delete_reader,
    export_reader,
    ingest_events,
    load_interactions,
    personalisation_allowed,
    pseudonym,
    reader_id_for,
    set_consent,
)
from zhimei.settings import reset_settings
from zhimei.store.db import read_scope, session_scope
from zhimei.store.models import Asset
from zhimei.store.models_engagement import Reader, ReaderInteraction

AT = datetime(2026, 11, 28, 9, 0, tzinfo=UTC).isoformat()


def seed(users: list[str]) -> list[int]:
    with session_scope() as s:
        assets = [Asset(kind="article", title=f"稿件{i}") for i in range(3)]
        s.add_all(assets)
        s.flush()
        ids = [a.id for a in assets]
    evs = []
    for u in users:
        for j, a in enumerate(ids):
            evs.append({"event_id": f"{u}-c{j}", "type": "click", "user": u, "asset_id": a, "at": AT})
            evs.append({"event_id": f"{u}-d{j}", "type": "dwell", "user": u, "asset_id": a, "at": AT, "value": 90})
    assert ingest_events(evs).accepted == len(evs)
    return ids


def _all_text(session) -> str:
    """Every value of the reader tables as text: the outside ids must not appear anywhere."""
    parts = []
    for table in ("reader", "reader_interaction", "engagement_counter", "event_seen"):
        for row in session.execute(text(f"SELECT * FROM {table}")):
            parts.append(" ".join(str(v) for v in row))
    return "\n".join(parts)


def test_readers_are_pseudonymous_and_the_key_matters(zhome, monkeypatch):
    seed(["alice@example.com", "bob-1234"])
    with read_scope() as s:
        stored = _all_text(s)
        assert "alice" not in stored and "bob-1234" not in stored and "example.com" not in stored
        assert set(s.scalars(select(Reader.pseudonym))) == {pseudonym("alice@example.com"), pseudonym("bob-1234")}
    assert (zhome / "keys" / "reader-hmac.key").stat().st_mode & 0o077 == 0
    monkeypatch.setenv("ZHIMEI_READER_KEY", "another-secret-key-of-enough-length")
    reset_settings()
    assert pseudonym("alice@example.com") != pseudonym("bob-1234")
    with read_scope() as s:
        assert reader_id_for(s, "alice@example.com", create=False) is None  # a different key: a different reader


def test_export_then_delete_removes_the_user_from_interactions(zhome):
    ids = seed(["alice", "bob"])
    with read_scope() as s:
        data = export_reader(s, "alice")
        before = counters(s)
        inter = load_interactions(s)
        alice = reader_id_for(s, "alice", create=False)
    assert data["reader"]["pseudonym"] == pseudonym("alice") and "alice" not in json.dumps(data["reader"])
    assert sorted(i["asset_id"] for i in data["interactions"]) == ids
    assert all(i["clicks"] == 1 and i["dwell_seconds"] == 90 for i in data["interactions"])
    assert alice in set(inter.reader_ids.tolist()) and len(inter) == 6
    with session_scope() as s:
        assert delete_reader(s, "alice") == {"deleted": True, "interactions_removed": 3}
    with session_scope() as s:
        assert delete_reader(s, "alice") == {"deleted": False, "interactions_removed": 0}  # a retry is harmless
    with read_scope() as s:
        after = load_interactions(s)
        assert alice not in set(after.reader_ids.tolist()) and len(after) == 3
        assert s.scalar(select(func.count()).select_from(ReaderInteraction)
                        .where(ReaderInteraction.reader_id == alice)) == 0
        assert counters(s) == before  # anonymous totals stay
        with pytest.raises(EngagementError) as exc:
            export_reader(s, "alice")
        assert exc.value.status == 404


def test_without_consent_no_personal_data_reaches_the_models(zhome):
    seed(["carol", "dave"])
    with session_scope() as s:
        set_consent(s, "carol", False)
        carol = reader_id_for(s, "carol", create=False)
        assert not personalisation_allowed(s, carol)
        assert personalisation_allowed(s, reader_id_for(s, "dave", create=False))
        assert personalisation_allowed(s, None)  # unknown reader: the default setting
    with read_scope() as s:
        assert carol not in set(load_interactions(s).reader_ids.tolist())
    with session_scope() as s:
        set_consent(s, "carol", True)
    with read_scope() as s:
        assert carol in set(load_interactions(s).reader_ids.tolist())
    with session_scope() as s:  # a consent given before any event creates the reader to remember it
        set_consent(s, "erin", False)
        assert not personalisation_allowed(s, reader_id_for(s, "erin", create=False))


def test_privacy_over_rest(client, tokens):
    ids = seed(["frank"])
    ed = {"Authorization": f"Bearer {tokens['editor']}"}
    viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
    assert client.get("/api/readers/frank/export", headers=viewer).status_code == 403
    r = client.get("/api/readers/frank/export", headers=ed)
    assert r.status_code == 200 and sorted(i["asset_id"] for i in r.json()["interactions"]) == ids
    assert client.get("/api/readers/nobody/export", headers=ed).status_code == 404
    assert client.put("/api/readers/frank/consent", json={"personalisation": "maybe"}, headers=ed).status_code == 422
    assert client.put("/api/readers/frank/consent", json={}, headers=ed).status_code == 422
    r = client.put("/api/readers/frank/consent", json={"personalisation": False}, headers=ed)
    assert r.status_code == 200 and r.json()["personalisation"] is False
    assert client.get("/api/readers/frank/consent", headers=ed).json()["personalisation"] is False
    assert client.get("/api/readers/" + "x" * 300 + "/consent", headers=ed).status_code == 422
    r = client.delete("/api/readers/frank", headers=ed)
    assert r.status_code == 200 and r.json() == {"deleted": True, "interactions_removed": 3}
    assert client.get("/api/readers/frank/export", headers=ed).status_code == 404


def test_privacy_from_the_cli(zhome):
    seed(["gina"])
    runner = CliRunner()
    r = runner.invoke(cli_app, ["readers", "export", "gina"])
    assert r.exit_code == 0, r.output
    assert len(json.loads(r.output)["interactions"]) == 3
    r = runner.invoke(cli_app, ["readers", "consent", "gina", "--deny"])
    assert r.exit_code == 0 and json.loads(r.output)["personalisation"] is False
    r = runner.invoke(cli_app, ["readers", "delete", "gina", "--yes"])
    assert r.exit_code == 0 and json.loads(r.output)["deleted"] is True
    r = runner.invoke(cli_app, ["readers", "export", "gina"])
    assert r.exit_code == 2 and "nothing is held" in r.output
