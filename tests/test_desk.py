"""编辑部 desks through the Python API on a real database (SQLite, or PostgreSQL with --db postgres): members and
desk roles, items through the stages, assignment and hand-over, edit locks (two people at once: exactly one wins;
expired locks taken over; chiefs break them), optimistic versions, the append-only history, hostile text."""

from __future__ import annotations

import re
import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import update

import zhimei.desk as desk
from zhimei.desk import DeskError
from zhimei.library.assets import ingest_bytes
from zhimei.store.db import session_scope
from zhimei.store.models import utcnow
from zhimei.store.models_desk import DeskItem


def asset(title: str = "稿件") -> int:
    """A real ingested article (each with its own text, so never a duplicate)."""
    body = f"# {title}\n\n{title}的正文 {uuid.uuid4().hex}。\n"
    return ingest_bytes(body.encode(), f"{uuid.uuid4().hex[:8]}.md", source="desk-test").asset_id


@pytest.fixture
def newsroom(zhome):
    """Desk 时政 (chief 王主编, editor 李编辑, reporter 张记者, proofreader 赵校对) and desk 财经 (chief 钱主编)."""
    desk.create_desk("时政", actor="王主编", description="时政新闻")
    for name, role in [("李编辑", "editor"), ("张记者", "reporter"), ("赵校对", "proofreader")]:
        desk.add_member("时政", name, role, actor="王主编")
    desk.create_desk("财经", actor="钱主编")
    return zhome


def expire_lock(item_id: int) -> None:
    """Let the item's lock run out (as if its minutes had passed)."""
    with session_scope() as s:
        s.execute(update(DeskItem).where(DeskItem.id == item_id)
                  .values(lock_expires_at=utcnow() - timedelta(seconds=1)))


def raises(status: int, match: str):
    """pytest.raises for a DeskError with this status."""
    class _Ctx:
        def __enter__(self):
            self.cm = pytest.raises(DeskError, match=match)
            self.info = self.cm.__enter__()
            return self.info

        def __exit__(self, *exc):
            out = self.cm.__exit__(*exc)
            assert self.info.value.status == status, (self.info.value.status, str(self.info.value))
            return out
    return _Ctx()


def test_desks_members_and_desk_roles(newsroom):
    d = desk.get_desk("时政")
    assert [(m["name"], m["role"]) for m in d["members"]] == [
        ("王主编", "chief"), ("李编辑", "editor"), ("张记者", "reporter"), ("赵校对", "proofreader")]
    assert desk.get_desk(d["id"])["name"] == "时政"  # by id too
    assert [x["name"] for x in desk.list_desks()] == sorted(["时政", "财经"])
    with raises(409, "already exists"):
        desk.create_desk("时政", actor="someone")
    with raises(404, "no desk '体育'"):
        desk.get_desk("体育")
    # only a chief of the desk (or an admin) manages members
    with raises(403, "managing members needs the desk role chief"):
        desk.add_member("时政", "新人", "reporter", actor="李编辑")
    with raises(403, "not a member of desk '时政'"):
        desk.add_member("时政", "新人", "reporter", actor="钱主编")
    assert desk.add_member("时政", "新人", "reporter", actor="admin-token", admin=True)["role"] == "reporter"
    assert desk.add_member("时政", "新人", "editor", actor="王主编")["role"] == "editor"  # a role change
    assert desk.add_member("时政", "新人", "editor", actor="王主编")["role"] == "editor"  # twice: nothing new
    with raises(422, "unknown desk role 'boss'"):
        desk.add_member("时政", "新人", "boss", actor="王主编")
    with raises(404, "no member '无名' on desk '时政'"):
        desk.remove_member("时政", "无名", actor="王主编")
    with raises(409, "only chief"):
        desk.remove_member("时政", "王主编", actor="王主编")
    desk.remove_member("时政", "新人", actor="王主编", note="调岗")
    assert "新人" not in [m["name"] for m in desk.list_members("时政")]
    actions = [e["action"] for e in desk.desk_history("时政")]
    assert actions[:4] == ["member_removed", "member_changed", "member_added", "member_added"]


@pytest.mark.parametrize("bad, match", [("", "desk name is required"), ("123", "only digits"),
                                        ("items", "reserved"), ("a/b", "may not contain"),
                                        ("时\x00政", "control character"), ("x" * 65, "the most is 64"),
                                        ("时\u202e政", "control character")])
def test_bad_desk_names_are_refused_by_name(zhome, bad, match):
    with raises(422, match):
        desk.create_desk(bad, actor="王主编")


def test_items_move_through_the_stages(newsroom):
    aid = asset("两会开幕")
    it = desk.add_item("时政", aid, actor="张记者", note="线索来自记者站")
    assert it["created"] and it["stage"] == "incoming" and it["version"] == 1 and it["title"]
    again = desk.add_item("时政", aid, actor="李编辑")  # a retry: the same item
    assert not again["created"] and again["id"] == it["id"]
    with raises(409, "already on desk '时政' as item"):
        desk.add_item("财经", aid, actor="钱主编")
    with raises(404, "no asset 999999"):
        desk.add_item("时政", 999999, actor="李编辑")
    with raises(403, "not a member"):
        desk.add_item("时政", asset(), actor="钱主编")
    with raises(404, "no member 'nobody'"):
        desk.add_item("时政", asset(), actor="李编辑", assignee="nobody")

    iid = it["id"]
    # a move the stage does not allow names the allowed ones
    with raises(409, "cannot move from incoming to ready: from incoming it can move to in_progress"):
        desk.move_item(iid, "ready", actor="李编辑", version=1)
    with raises(422, "unknown stage 'done': stages are incoming, in_progress"):
        desk.move_item(iid, "done", actor="李编辑", version=1)
    with raises(428, "send the version"):
        desk.move_item(iid, "in_progress", actor="李编辑")
    v = desk.move_item(iid, "in_progress", actor="张记者", version=1, note="开始写")["version"]
    assert v == 2
    with raises(409, "changed since you read it \\(you have version 1, it is now version 2\\)"):
        desk.move_item(iid, "proofread", actor="李编辑", version=1)
    assert desk.move_item(iid, "in_progress", actor="李编辑", version=1)["version"] == 2  # already there: no-op
    v = desk.move_item(iid, "proofread", actor="张记者", version=v)["version"]
    v = desk.move_item(iid, "review", actor="赵校对", version=v)["version"]
    with raises(403, "moving an item to ready needs the desk role chief or editor"):
        desk.move_item(iid, "ready", actor="张记者", version=v)
    v = desk.move_item(iid, "ready", actor="李编辑", version=v)["version"]
    done = desk.move_item(iid, "published", actor="王主编", version=v)
    assert done["stage"] == "published" and done["allowed_moves"] == ["in_progress"]
    assert [i["id"] for i in desk.list_items("时政", stage="published")] == [iid]
    board = desk.desk_board("时政")
    assert [c["stage"] for c in board["columns"]] == list(desk.STAGES)
    assert board["stages"]["published"] == 1
    hist = desk.item_history(iid)
    assert [(h["action"], h["detail"].get("to")) for h in hist] == [
        ("created", None), ("moved", "in_progress"), ("moved", "proofread"), ("moved", "review"),
        ("moved", "ready"), ("moved", "published")]
    assert hist[0]["note"] == "线索来自记者站" and hist[1]["actor"] == "张记者" and hist[1]["note"] == "开始写"
    with raises(404, "no desk item 424242"):
        desk.get_item(424242)


def test_assign_handover_and_transfer(newsroom):
    iid = desk.add_item("时政", asset("台风登陆"), actor="李编辑")["id"]
    # a reporter takes an unassigned item, but may not assign others
    it = desk.assign_item(iid, "张记者", actor="张记者", version=1)
    assert it["assignee"] == "张记者"
    with raises(403, "a reporter may only take an unassigned item themselves"):
        desk.assign_item(iid, "赵校对", actor="张记者", version=it["version"])
    with raises(404, "no member 'ghost' on desk '时政'"):
        desk.assign_item(iid, "ghost", actor="李编辑", version=it["version"])
    with raises(422, "hand-over note is required"):
        desk.handover_item(iid, "李编辑", actor="张记者", note="  ", version=it["version"])
    with raises(403, "only the assignee"):
        desk.handover_item(iid, "李编辑", actor="赵校对", note="给你", version=it["version"])
    it = desk.handover_item(iid, "李编辑", actor="张记者", note="初稿已完成，图片待补", version=it["version"])
    assert it["assignee"] == "李编辑"
    with raises(409, "already with 李编辑"):
        desk.handover_item(iid, "李编辑", actor="王主编", note="x", version=it["version"])
    # to another desk: only a chief or editor; the assignee stays only if a member there
    with raises(403, "needs the desk role chief or editor"):
        desk.transfer_item(iid, "财经", actor="张记者", version=it["version"])
    with raises(404, "no desk '体育'"):
        desk.transfer_item(iid, "体育", actor="李编辑", version=it["version"])
    moved = desk.transfer_item(iid, "财经", actor="李编辑", version=it["version"], note="涉及股市")
    assert moved["desk"] == "财经" and moved["assignee"] is None and moved["stage"] == "incoming"
    assert desk.list_items("时政") == [] and [i["id"] for i in desk.list_items("财经")] == [iid]
    with raises(403, "not a member of desk '财经'"):
        desk.move_item(iid, "in_progress", actor="李编辑", version=moved["version"])
    ev = desk.add_note(iid, "请财经部跟进", actor="钱主编")
    assert ev["action"] == "note"
    hist = desk.get_item(iid)["history"]
    assert [h["action"] for h in hist] == ["created", "assigned", "handed_over", "transferred", "note"]
    assert hist[2]["note"] == "初稿已完成，图片待补" and hist[2]["detail"] == {"from": "张记者", "to": "李编辑"}
    assert hist[3]["detail"]["unassigned"] == "李编辑" and hist[3]["detail"]["to"] == "财经"


def test_locks_keep_two_editors_apart(newsroom):
    iid = desk.add_item("时政", asset("调查报道"), actor="李编辑")["id"]
    lock = desk.acquire_lock(iid, actor="李编辑", minutes=10)
    assert lock["holder"] == "李编辑" and len(lock["token"]) >= 20 and not lock["renewed"]
    # a second editor: 409 naming who and until when
    with raises(409, re.escape(f"item {iid} is locked by 李编辑 until {lock['expires_at']}")) as info:
        desk.acquire_lock(iid, actor="张记者")
    assert info.value.extra == {"holder": "李编辑", "until": lock["expires_at"]}
    with raises(409, "locked by 李编辑 until"):
        desk.move_item(iid, "in_progress", actor="张记者", version=1)
    with raises(409, "locked by you .* send the lock token"):
        desk.move_item(iid, "in_progress", actor="李编辑", version=1)
    with raises(409, "does not match"):
        desk.move_item(iid, "in_progress", actor="李编辑", lock_token="guess")
    it = desk.move_item(iid, "in_progress", actor="李编辑", lock_token=lock["token"])
    assert it["lock"]["holder"] == "李编辑" and "token" not in str(it["lock"])
    again = desk.acquire_lock(iid, actor="李编辑")  # your own lock: renewed, same token
    assert again["renewed"] and again["token"] == lock["token"]
    assert desk.renew_lock(iid, lock["token"], actor="李编辑", minutes=30)["expires_at"] > lock["expires_at"]
    with raises(409, "not with your token"):
        desk.release_lock(iid, "guess", actor="张记者")
    assert desk.add_note(iid, "锁定时也能留言", actor="张记者")["action"] == "note"  # notes never overwrite
    assert desk.release_lock(iid, lock["token"], actor="李编辑")["released"]
    assert not desk.release_lock(iid, lock["token"], actor="李编辑")["released"]  # a retry changes nothing
    with raises(409, "not locked with that token"):
        desk.move_item(iid, "proofread", actor="李编辑", lock_token=lock["token"])
    for bad in (0, -1, 1441, "ten"):
        with raises(422, "lock minutes must be"):
            desk.acquire_lock(iid, actor="李编辑", minutes=bad)
    with raises(403, "not a member"):
        desk.acquire_lock(iid, actor="钱主编")
    actions = [h["action"] for h in desk.item_history(iid)]
    assert actions == ["created", "locked", "moved", "note", "unlocked"]


def test_expired_locks_are_taken_over_and_chiefs_break_locks(newsroom):
    iid = desk.add_item("时政", asset("突发事件"), actor="李编辑")["id"]
    old = desk.acquire_lock(iid, actor="张记者")
    expire_lock(iid)
    assert desk.get_item(iid)["lock"] is None  # expired: shown as free
    with raises(409, "expired at"):
        desk.renew_lock(iid, old["token"], actor="张记者")
    with raises(409, "your lock on item .* expired"):
        desk.move_item(iid, "in_progress", actor="张记者", lock_token=old["token"])
    new = desk.acquire_lock(iid, actor="李编辑")  # taken over cleanly
    assert new["holder"] == "李编辑" and new["token"] != old["token"]
    with raises(409, "locked by 李编辑 until"):
        desk.move_item(iid, "in_progress", actor="张记者", lock_token=old["token"])
    with raises(409, "locked by 李编辑"):
        desk.release_lock(iid, old["token"], actor="张记者")
    # breaking: a chief of the desk or an admin, recorded with the reason
    with raises(403, "breaking a lock needs the desk role chief"):
        desk.break_lock(iid, actor="张记者")
    with raises(403, "not a member"):
        desk.break_lock(iid, actor="钱主编")
    broke = desk.break_lock(iid, actor="王主编", reason="李编辑 下班了")
    assert broke == {"item_id": iid, "broken": True, "holder": "李编辑", "until": new["expires_at"]}
    with raises(409, "is not locked"):
        desk.break_lock(iid, actor="王主编")
    desk.acquire_lock(iid, actor="张记者")
    assert desk.break_lock(iid, actor="ops", admin=True)["holder"] == "张记者"
    hist = desk.item_history(iid)
    assert [h["action"] for h in hist] == ["created", "locked", "locked", "lock_broken", "locked", "lock_broken"]
    assert hist[2]["detail"]["took_over_from"] == "张记者"
    assert hist[3]["actor"] == "王主编" and hist[3]["note"] == "李编辑 下班了"
    assert hist[3]["detail"]["holder"] == "李编辑"


def _race(fn, people: list[str]) -> tuple[list, list[DeskError]]:
    """Run fn(person) in one thread per person, released together; (results, DeskErrors)."""
    barrier = threading.Barrier(len(people))
    wins: list = []
    losses: list[DeskError] = []
    other: list[BaseException] = []

    def go(who: str) -> None:
        barrier.wait()
        try:
            wins.append(fn(who))
        except DeskError as exc:
            losses.append(exc)
        except BaseException as exc:  # noqa: BLE001 - reported below
            other.append(exc)

    threads = [threading.Thread(target=go, args=(p,)) for p in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not other, other
    return wins, losses


def test_two_people_locking_at_once_exactly_one_wins(newsroom):
    for round_ in range(4):
        iid = desk.add_item("时政", asset(f"抢锁 {round_}"), actor="李编辑")["id"]
        wins, losses = _race(lambda who, i=iid: desk.acquire_lock(i, actor=who), ["李编辑", "张记者", "赵校对"])
        assert len(wins) == 1 and len(losses) == 2, (wins, losses)
        winner = wins[0]["holder"]
        assert all(e.status == 409 and f"locked by {winner} until" in str(e) for e in losses)
        assert desk.get_item(iid)["lock"]["holder"] == winner
        assert [h["action"] for h in desk.item_history(iid)] == ["created", "locked"]


def test_expired_lock_taken_over_by_two_at_once(newsroom):
    iid = desk.add_item("时政", asset("过期锁"), actor="李编辑")["id"]
    desk.acquire_lock(iid, actor="王主编")
    expire_lock(iid)
    wins, losses = _race(lambda who: desk.acquire_lock(iid, actor=who), ["李编辑", "张记者"])
    assert len(wins) == 1 and len(losses) == 1 and losses[0].status == 409
    assert desk.item_history(iid)[-1]["detail"]["took_over_from"] == "王主编"


def test_two_editors_moving_the_same_version_exactly_one_wins(newsroom):
    iid = desk.add_item("时政", asset("同时改"), actor="李编辑")["id"]
    wins, losses = _race(lambda who: desk.move_item(iid, "in_progress", actor=who, version=1, note=who),
                         ["李编辑", "王主编"])
    # the loser either finds the move already made (a no-op) or, had it differed, a stale version
    assert len(wins) + len(losses) == 2
    assert [h["action"] for h in desk.item_history(iid)] == ["created", "moved"]
    item = desk.get_item(iid)
    wins, losses = _race(lambda who: desk.assign_item(iid, who, actor=who, version=item["version"]),
                         ["李编辑", "王主编"])
    assert len(wins) == 1 and len(losses) == 1 and losses[0].status == 409
    assert "changed since you read it" in str(losses[0])
    assert desk.get_item(iid)["assignee"] == wins[0]["assignee"]


@pytest.mark.parametrize("note, match", [("x" * 4001, "note is 4001 characters long; the most is 4000"),
                                         ("好\x07稿", "control character \\(U\\+0007\\)"),
                                         ("a\u202eb", "control character \\(U\\+202E\\)"),
                                         (12, "note must be text")])
def test_hostile_notes_are_refused_clearly(newsroom, note, match):
    iid = desk.add_item("时政", asset("留言"), actor="李编辑")["id"]
    with raises(422, match):
        desk.add_note(iid, note, actor="李编辑")
    with raises(422, match):
        desk.move_item(iid, "in_progress", actor="李编辑", version=1, note=note)
    assert desk.get_item(iid)["stage"] == "incoming"  # nothing written
    ok = desk.add_note(iid, "第一行\n第二行\t缩进", actor="李编辑")
    assert ok["note"] == "第一行\n第二行\t缩进"


def test_lock_minutes_come_from_the_setting(newsroom, monkeypatch):
    from zhimei.settings import reset_settings

    monkeypatch.setenv("ZHIMEI_DESK_LOCK_MINUTES", "2")
    reset_settings()
    iid = desk.add_item("时政", asset("设置"), actor="李编辑")["id"]
    lock = desk.acquire_lock(iid, actor="李编辑")
    from datetime import datetime

    left = datetime.fromisoformat(lock["expires_at"]) - utcnow()
    assert timedelta(minutes=1) < left <= timedelta(minutes=2)


def test_retitle_follows_the_same_rules(newsroom):
    iid = desk.add_item("时政", asset("原题"), actor="李编辑")["id"]
    lock = desk.acquire_lock(iid, actor="张记者")
    with raises(409, "locked by 张记者"):
        desk.retitle_item(iid, "新题", actor="李编辑", version=1)
    it = desk.retitle_item(iid, "新题：两会开幕", actor="张记者", lock_token=lock["token"], note="更准确")
    assert it["title"] == "新题：两会开幕" and it["version"] == 2
    with raises(422, "title is required"):
        desk.retitle_item(iid, "   ", actor="张记者", lock_token=lock["token"])
    with raises(422, "title is 1001 characters long"):
        desk.retitle_item(iid, "题" * 1001, actor="张记者", lock_token=lock["token"])
    last = desk.item_history(iid)[-1]
    assert last["action"] == "retitled" and last["detail"]["to"] == "新题：两会开幕" and last["note"] == "更准确"


def test_the_board_shows_the_latest_items_per_stage_with_full_counts(newsroom):
    ids = [desk.add_item("时政", asset(f"稿 {n}"), actor="李编辑")["id"] for n in range(3)]
    board = desk.desk_board("时政", per_stage=2)
    incoming = board["columns"][0]
    assert incoming["total"] == 3 and [i["id"] for i in incoming["items"]] == [ids[2], ids[1]]
    assert all(i["asset_kind"] == "article" for i in incoming["items"])
    with raises(422, "per_stage must be between"):
        desk.desk_board("时政", per_stage=0)


def test_two_chiefs_adding_the_same_member_at_once(newsroom):
    wins, losses = _race(lambda who: desk.add_member("时政", "新记者", "reporter", actor=who, admin=True),
                         ["王主编", "ops"])
    assert len(wins) == 2 and not losses
    assert [m["name"] for m in desk.list_members("时政")].count("新记者") == 1
    assert [e["action"] for e in desk.desk_history("时政")].count("member_added") == 5  # 4 at set-up, 1 now
