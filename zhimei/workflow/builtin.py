"""Built-in step types: each calls only other areas' public functions (library, search, insight, studio, review,
labels, publish) and returns JSON-ready outputs. Errors of those areas fail the step with their own message."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from zhimei.workflow.errors import StepFailed
from zhimei.workflow.steps import Param, StepCall, step_type

__all__: list[str] = []

P = Param


def _ids(value: Any, what: str = "asset_ids") -> list[int]:
    if isinstance(value, int | str) and str(value).isdigit():
        return [int(value)]
    if not isinstance(value, list) or not value:
        raise StepFailed(f"{what} must be a non-empty list of asset ids")
    try:
        return [int(x["asset_id"] if isinstance(x, dict) else x) for x in value]
    except (KeyError, TypeError, ValueError):
        raise StepFailed(f"{what} must be asset ids, not {value!r}") from None


def _tokens(call: StepCall, res: Any) -> None:
    for c in getattr(res, "calls", None) or []:
        call.add_tokens(int(c.get("tokens_in") or 0) + int(c.get("tokens_out") or 0))


def _media_url(asset_id: int, start: float | None = None, end: float | None = None) -> str:
    url = f"/api/assets/{asset_id}/media/proxy"
    return url + (f"#t={start:.2f},{end:.2f}" if start is not None and end is not None else "")


# ---------------------------------------------------------------- plumbing
@step_type("set", "Set values", inputs=(P("value", "any", True, doc="any value, usually built from references"),),
           outputs=(P("value", "any"),))
def _set(call: StepCall) -> dict[str, Any]:
    """Hand a value (built from inputs and earlier outputs) to later steps."""
    return {"value": call.inputs["value"]}


@step_type("delay", "Wait", inputs=(P("seconds", "float", True, doc="how long to wait"),),
           outputs=(P("waited", "float"),))
def _delay(call: StepCall) -> dict[str, Any]:
    """Wait a number of seconds (e.g. before checking again)."""
    seconds = float(call.inputs["seconds"])
    if not 0 <= seconds <= 86400:
        raise StepFailed("seconds must be between 0 and 86400")
    t0 = time.monotonic()
    while (left := seconds - (time.monotonic() - t0)) > 0:
        call.progress(100.0 * (1 - left / seconds) if seconds else 100.0, "waiting")
        call.stop.wait(min(0.2, left))
    call.check()
    return {"waited": round(time.monotonic() - t0, 3)}


# ---------------------------------------------------------------- library
@step_type("ingest", "Ingest a file", inputs=(P("path", "str", True, doc="a file on the server"),
                                              P("source", "str", False, "workflow"), P("title", "str")),
           outputs=(P("asset_id", "int"), P("created", "bool"), P("kind", "str")))
def _ingest(call: StepCall) -> dict[str, Any]:
    """Ingest a file into the library (duplicates give back the existing asset)."""
    from zhimei.library import IngestError, ingest_file

    try:
        res = ingest_file(call.inputs["path"], source=call.inputs.get("source") or "workflow",
                          title=call.inputs.get("title"), created_by=call.actor)
    except (IngestError, OSError) as exc:
        raise StepFailed(str(exc)) from None
    return {"asset_id": res.asset_id, "created": res.created, "kind": res.kind}


@step_type("assets.recent", "Gather recent items",
           inputs=(P("hours", "float", False, 24.0, "how far back"), P("kind", "str", doc="article|image|audio|video"),
                   P("source", "str", doc="only this source (feed name)"), P("limit", "int", False, 20)),
           outputs=(P("asset_ids", "list"), P("assets", "list")))
def _recent(call: StepCall) -> dict[str, Any]:
    """The newest processed library items (e.g. the morning's feed items)."""
    from sqlalchemy import select

    from zhimei.store.db import read_scope
    from zhimei.store.models import Asset, utcnow

    hours = float(call.inputs.get("hours") or 24.0)
    limit = int(call.inputs.get("limit") or 20)
    if not 0 < hours <= 24 * 366 or not 1 <= limit <= 1000:
        raise StepFailed("hours must be in (0, 8784] and limit in [1, 1000]")
    q = select(Asset).where(Asset.created_at >= utcnow() - timedelta(hours=hours), Asset.status == "ready")
    if call.inputs.get("kind"):
        q = q.where(Asset.kind == call.inputs["kind"])
    if call.inputs.get("source"):
        q = q.where(Asset.source == call.inputs["source"])
    with read_scope() as s:
        rows = [{"asset_id": a.id, "title": a.title, "kind": a.kind, "source": a.source}
                for a in s.scalars(q.order_by(Asset.id.desc()).limit(limit))]
    return {"asset_ids": [r["asset_id"] for r in rows], "assets": rows}


@step_type("assets.wait", "Wait until processed",
           inputs=(P("asset_ids", "list", True), P("seconds", "float", False, 600.0, "give up after this long")),
           outputs=(P("asset_ids", "list"), P("statuses", "dict")))
def _wait_ready(call: StepCall) -> dict[str, Any]:
    """Wait until the assets' processing finished (e.g. a saved draft's text extraction before labelling); their
    queued processing jobs are run here meanwhile."""
    from sqlalchemy import select

    from zhimei.jobs import run_asset_jobs
    from zhimei.store.db import read_scope
    from zhimei.store.models import Asset

    ids = _ids(call.inputs["asset_ids"])
    limit = float(call.inputs.get("seconds") or 600.0)
    t0 = time.monotonic()
    while True:
        with read_scope() as s:
            statuses = {str(i): st for i, st in s.execute(select(Asset.id, Asset.status).where(Asset.id.in_(ids)))}
        missing = [i for i in ids if str(i) not in statuses]
        if missing:
            raise StepFailed(f"asset(s) {', '.join(map(str, missing))} not found")
        failed = [i for i, st in statuses.items() if st == "failed"]
        if failed:
            raise StepFailed(f"asset(s) {', '.join(failed)} failed processing")
        if all(st == "ready" for st in statuses.values()):
            return {"asset_ids": ids, "statuses": statuses}
        if time.monotonic() - t0 > limit:
            raise StepFailed(f"asset(s) still processing after {limit:g} s: "
                             f"{', '.join(i for i, st in statuses.items() if st != 'ready')}")
        call.progress(100.0 * sum(st == "ready" for st in statuses.values()) / len(ids), "waiting for processing")
        call.check()
        if not run_asset_jobs(ids, f"run-{call.run_id}:{call.step_key}"):
            call.stop.wait(0.5)


@step_type("search", "Search the archive",
           inputs=(P("query", "str", True), P("kind", "str"), P("limit", "int", False, 10)),
           outputs=(P("asset_ids", "list"), P("hits", "list"), P("total", "int")))
def _search(call: StepCall) -> dict[str, Any]:
    """Hybrid keyword + vector search; one hit per asset."""
    from zhimei.library.search import SearchError, search

    filters = {"kind": call.inputs["kind"]} if call.inputs.get("kind") else None
    try:
        res = search(str(call.inputs["query"]), filters=filters, limit=int(call.inputs.get("limit") or 10))
    except SearchError as exc:
        raise StepFailed(str(exc)) from None
    hits = [{"asset_id": h.asset_id, "title": h.asset_title, "kind": h.asset_kind, "snippet": h.snippet,
             "score": round(h.score, 4)} for h in res.hits]
    return {"asset_ids": [h["asset_id"] for h in hits], "hits": hits, "total": res.total}


# ---------------------------------------------------------------- insight
@step_type("insight.hot_topics", "Find rising stories",
           inputs=(P("limit", "int", False, 5), P("hours", "float", False, 24.0, "stories with items this recent"),
                   P("items", "int", False, 5, "items per story")),
           outputs=(P("stories", "list"), P("asset_ids", "list")))
def _hot(call: StepCall) -> dict[str, Any]:
    """The hottest rising stories with their newest items."""
    from zhimei.insight import InsightError, hot_topics, story_detail
    from zhimei.store.db import read_scope
    from zhimei.store.models import utcnow

    n_items = int(call.inputs.get("items") or 5)
    try:
        with read_scope() as s:
            stories = hot_topics(s, since=utcnow() - timedelta(hours=float(call.inputs.get("hours") or 24)),
                                 limit=int(call.inputs.get("limit") or 5))
            out = []
            for st in stories:
                items = story_detail(s, st.id, item_limit=n_items)["items"]
                out.append({"id": st.id, "title": st.title, "heat": round(st.heat, 3), "terms": st.terms[:10],
                            "asset_ids": [it["asset_id"] for it in items]})
    except InsightError as exc:
        raise StepFailed(str(exc)) from None
    return {"stories": out, "asset_ids": sorted({a for st in out for a in st["asset_ids"]})}


@step_type("insight.sentiment", "Sentiment report",
           inputs=(P("days", "float", False, 1.0), P("term", "str", doc="only items mentioning this term"),
                   P("bucket", "str", False, "day")),
           outputs=(P("trend", "dict"), P("report", "str"), P("items", "int")))
def _sentiment(call: StepCall) -> dict[str, Any]:
    """Mean sentiment and negative share over the last days (optionally for one watched term)."""
    from zhimei.insight import InsightError, sentiment_trend
    from zhimei.store.db import read_scope
    from zhimei.store.models import utcnow

    days = float(call.inputs.get("days") or 1.0)
    try:
        with read_scope() as s:
            trend = sentiment_trend(s, since=utcnow() - timedelta(days=days), bucket=call.inputs.get("bucket") or "day",
                                    term=call.inputs.get("term") or None)
    except InsightError as exc:
        raise StepFailed(str(exc)) from None
    n = int(trend.get("items") or 0)
    about = f" about {call.inputs['term']!r}" if call.inputs.get("term") else ""
    lines = [f"Sentiment{about}, last {days:g} day(s): {n} item(s), positive {trend.get('sentiment')}, "
             f"negative share {trend.get('negative_share')}."]
    for b in trend.get("series") or []:
        lines.append(f"{b.get('start') or b.get('day') or b.get('bucket')}: {b.get('items')} items, positive "
                     f"{b.get('sentiment')}, negative share {b.get('negative_share')}")
    return {"trend": trend, "report": "\n".join(lines), "items": n}


# ---------------------------------------------------------------- studio
def _studio(call: StepCall, fn_name: str, **kw: Any) -> Any:
    import zhimei.studio as studio

    sources = call.inputs.get("asset_ids")
    text = call.inputs.get("text")
    if not sources and not text:
        raise StepFailed("give asset_ids or text")
    try:
        res = getattr(studio, fn_name)(_ids(sources) if sources else None, text=text or None, **kw)
    except studio.StudioError as exc:
        raise StepFailed(str(exc)) from None
    _tokens(call, res)
    return res


def _save(call: StepCall, res: Any) -> int | None:
    if not call.inputs.get("save"):
        return None
    from zhimei.studio import StudioError

    try:
        return res.save(title=call.inputs.get("title") or None, created_by=call.actor)
    except StudioError as exc:
        raise StepFailed(str(exc)) from None


@step_type("studio.summary", "Summarise",
           inputs=(P("asset_ids", "list"), P("text", "str"), P("length", "str", False, "short",
                                                               "one-line | short | long"),
                   P("save", "bool", False, False, "save as an AI-marked article"), P("title", "str")),
           outputs=(P("text", "str"), P("method", "str"), P("asset_id", "int")))
def _summary(call: StepCall) -> dict[str, Any]:
    """A summary of assets or a text."""
    res = _studio(call, "summary", length=call.inputs.get("length") or "short")
    return {"text": res.text, "method": res.method, "asset_id": _save(call, res)}


@step_type("studio.headlines", "Headline variants",
           inputs=(P("asset_ids", "list"), P("text", "str"), P("n", "int", False, 3)),
           outputs=(P("headlines", "list"), P("headline", "str"), P("method", "str")))
def _headlines(call: StepCall) -> dict[str, Any]:
    """Headline variants for assets or a text."""
    res = _studio(call, "headlines", n=int(call.inputs.get("n") or 3))
    return {"headlines": [v.text for v in res.variants], "headline": res.text, "method": res.method}


@step_type("studio.draft", "Draft a story",
           inputs=(P("asset_ids", "list", True), P("save", "bool", False, True, "save as an AI-marked article"),
                   P("title", "str")),
           outputs=(P("text", "str"), P("method", "str"), P("asset_id", "int")))
def _draft(call: StepCall) -> dict[str, Any]:
    """A cited news draft from source assets."""
    import zhimei.studio as studio

    try:
        res = studio.draft(_ids(call.inputs["asset_ids"]))
    except studio.StudioError as exc:
        raise StepFailed(str(exc)) from None
    _tokens(call, res)
    return {"text": res.text, "method": res.method, "asset_id": _save(call, res)}


@step_type("studio.clips", "Suggest clips (拆条)",
           inputs=(P("asset_id", "int", True, doc="a video or audio asset"), P("min_seconds", "float", False, 20.0),
                   P("max_seconds", "float", False, 120.0), P("limit", "int", False, 10, "keep the best N")),
           outputs=(P("clips", "list"), P("count", "int")))
def _clips(call: StepCall) -> dict[str, Any]:
    """Topical clips on sentence ends, snapped to shot cuts."""
    from zhimei.studio import StudioError, suggest_clips

    aid = int(call.inputs["asset_id"])
    try:
        clips = suggest_clips(aid, min_seconds=float(call.inputs.get("min_seconds") or 20.0),
                              max_seconds=float(call.inputs.get("max_seconds") or 120.0),
                              progress=lambda p, m: call.progress(p, m))
    except StudioError as exc:
        raise StepFailed(str(exc)) from None
    best = sorted(clips, key=lambda c: -c.score)[: int(call.inputs.get("limit") or 10)]
    out = [{"asset_id": aid, "start": round(c.start, 3), "end": round(c.end, 3), "title": c.title,
            "summary": c.summary, "score": round(c.score, 3), "url": _media_url(aid, c.start, c.end)}
           for c in sorted(best, key=lambda c: c.start)]
    return {"clips": out, "count": len(out)}


@step_type("studio.export_clip", "Export a clip (MP4)",
           inputs=(P("asset_id", "int", True), P("start", "float", True), P("end", "float", True), P("title", "str"),
                   P("vertical", "bool", False, False, "9:16 for social"), P("captions", "bool", False, True)),
           outputs=(P("asset_id", "int"), P("url", "str")))
def _export(call: StepCall) -> dict[str, Any]:
    """Render a time range of a video as a new AI-marked clip asset."""
    from zhimei.studio import StudioError, export_clip

    try:
        new = export_clip(int(call.inputs["asset_id"]), float(call.inputs["start"]), float(call.inputs["end"]),
                          vertical=bool(call.inputs.get("vertical")), captions=call.inputs.get("captions") is not False,
                          title=call.inputs.get("title") or None, created_by=call.actor,
                          progress=lambda p: call.progress(p, "rendering"))
    except StudioError as exc:
        raise StepFailed(str(exc)) from None
    return {"asset_id": new, "url": f"/api/assets/{new}/media/original"}


@step_type("studio.covers", "Make covers",
           inputs=(P("asset_id", "int", True), P("title", "str", True), P("aspects", "list", False, ["16:9"]),
                   P("variants", "int", False, 1)),
           outputs=(P("asset_ids", "list"), P("covers", "list")))
def _covers(call: StepCall) -> dict[str, Any]:
    """Covers from the best keyframes with the title set on them."""
    from zhimei.studio import StudioError, make_covers

    try:
        covers = make_covers(int(call.inputs["asset_id"]), str(call.inputs["title"]),
                             aspects=list(call.inputs.get("aspects") or ["16:9"]),
                             variants=int(call.inputs.get("variants") or 1), created_by=call.actor)
    except StudioError as exc:
        raise StepFailed(str(exc)) from None
    return {"asset_ids": [c["asset_id"] for c in covers], "covers": covers}


# ---------------------------------------------------------------- review
def _text_of(call: StepCall) -> str:
    text = call.inputs.get("text")
    if isinstance(text, str) and text.strip():
        return text
    raise StepFailed("give the text to check")


@step_type("proofread", "Proofread",
           inputs=(P("text", "str", True), P("apply", "bool", False, False, "apply every suggestion")),
           outputs=(P("suggestions", "list"), P("count", "int"), P("text", "str")))
def _proofread(call: StepCall) -> dict[str, Any]:
    """Spelling, terms, numbers/dates/punctuation suggestions (optionally applied)."""
    from zhimei.review.proofread import ProofreadError, apply_suggestions, proofread

    text = _text_of(call)
    try:
        sugg = proofread(text)
        fixed = apply_suggestions(text, _non_overlapping(sugg)) if call.inputs.get("apply") else text
    except ProofreadError as exc:
        raise StepFailed(str(exc)) from None
    return {"suggestions": [s.to_dict() for s in sugg], "count": len(sugg), "text": fixed}


def _non_overlapping(sugg: list[Any]) -> list[Any]:
    out, end = [], -1
    for s in sorted(sugg, key=lambda s: (s.start, -s.confidence)):
        if s.start >= end:
            out.append(s)
            end = s.end
    return out


@step_type("moderate", "Moderate",
           inputs=(P("text", "str"), P("asset_id", "int"), P("channel", "str", False, "default")),
           outputs=(P("tier", "str"), P("score", "float"), P("reasons", "list")))
def _moderate(call: StepCall) -> dict[str, Any]:
    """Moderation verdict (pass / needs_review / block) of a text or an asset."""
    from zhimei.review import ModerationError, PolicyError, moderate_asset, moderate_text

    channel = call.inputs.get("channel") or "default"
    try:
        if call.inputs.get("asset_id"):
            v = moderate_asset(int(call.inputs["asset_id"]), channel)
        else:
            v = moderate_text(_text_of(call), channel)
    except (ModerationError, PolicyError) as exc:
        raise StepFailed(str(exc)) from None
    d = v.to_dict()
    return {"tier": v.tier, "score": round(float(v.score), 4), "reasons": d.get("reasons", [])}


@step_type("review.open", "Open review cases",
           inputs=(P("asset_id", "int", True), P("channel", "str", False, "default")),
           outputs=(P("case_id", "int"), P("status", "str"), P("tier", "str"), P("approvals_needed", "int")))
def _review_open(call: StepCall) -> dict[str, Any]:
    """The review case of the asset's current version (opened from moderation when new)."""
    from zhimei.review.queue import ReviewError, open_case

    try:
        case = open_case(int(call.inputs["asset_id"]), call.inputs.get("channel") or "default",
                         actor=f"workflow:{call.run_id}")
    except ReviewError as exc:
        raise StepFailed(str(exc)) from None
    return {"case_id": case["id"], "status": case["status"], "tier": case["tier"],
            "approvals_needed": case["approvals_needed"]}


@step_type("review.decide", "Record a review decision",
           inputs=(P("case_id", "int", True), P("reviewer", "str", True, doc="who decided (e.g. the approver)"),
                   P("decision", "str", False, "approve", "approve | reject | escalate"),
                   P("reason", "str", False, "approve.no_violation"), P("note", "str", False, "")),
           outputs=(P("status", "str"), P("passed", "bool")))
def _review_decide(call: StepCall) -> dict[str, Any]:
    """Record the reviewer's decision in the review queue (audited); high-risk cases still need two reviewers."""
    from zhimei.review.queue import ReviewError, decide

    try:
        case = decide(int(call.inputs["case_id"]), str(call.inputs["reviewer"]), call.inputs.get("decision") or
                      "approve", [call.inputs.get("reason") or "approve.no_violation"], call.inputs.get("note") or "")
    except ReviewError as exc:
        raise StepFailed(str(exc)) from None
    return {"status": case["status"], "passed": case["status"] == "passed"}


@step_type("labels.apply", "Apply AIGC labels",
           inputs=(P("asset_id", "int", True, doc="an AI-made asset"),),
           outputs=(P("asset_id", "int"), P("source_asset", "int")))
def _label(call: StepCall) -> dict[str, Any]:
    """The labelled version (explicit + implicit AIGC label + C2PA) of an AI-made asset."""
    from zhimei.review.labels import AssetNotFound, LabelError, label_asset

    try:
        res = label_asset(int(call.inputs["asset_id"]), created_by=call.actor)
    except (LabelError, AssetNotFound) as exc:
        raise StepFailed(str(exc)) from None
    return {"asset_id": res["asset_id"], "source_asset": int(call.inputs["asset_id"])}


# ---------------------------------------------------------------- distribution
@step_type("publish", "Publish",
           inputs=(P("asset_id", "int", True), P("channel", "str", True), P("at", "str", doc="ISO time, e.g. "
                                                                               "2026-12-04T07:00 (default now)"),
                   P("embargo", "str")),
           outputs=(P("publication_id", "int"), P("status", "str"), P("asset_id", "int")))
def _publish(call: StepCall) -> dict[str, Any]:
    """Publish an asset that passed review in a channel (now or at a time)."""
    from zhimei.distribute.publish import PublishError, publish

    try:
        p = publish(int(call.inputs["asset_id"]), str(call.inputs["channel"]), publish_at=call.inputs.get("at") or None,
                    embargo_until=call.inputs.get("embargo") or None, actor=call.actor)
    except PublishError as exc:
        raise StepFailed(str(exc)) from None
    return {"publication_id": p["id"], "status": p["status"], "asset_id": int(call.inputs["asset_id"])}


@step_type("notify", "Notify",
           inputs=(P("message", "str", True), P("url", "str", doc="POST the message as JSON to this webhook"),
                   P("data", "any")),
           outputs=(P("message", "str"), P("sent", "bool"), P("status_code", "int")))
def _notify(call: StepCall) -> dict[str, Any]:
    """Record a message on the run and POST it to a webhook when a URL is given."""
    from zhimei.workflow.notify import post_json

    url = call.inputs.get("url")
    msg = str(call.inputs["message"])
    if not url:
        return {"message": msg, "sent": False, "status_code": None}
    code = post_json(url, {"run_id": call.run_id, "step": call.step_key, "message": msg,
                           "data": call.inputs.get("data")})
    return {"message": msg, "sent": True, "status_code": code}


@step_type("insight.alert", "Read a hot-topic alert",
           inputs=(P("alert_id", "int", True, doc="a watchlist alert (the hot_topic trigger fills it)"),),
           outputs=(P("asset_ids", "list"), P("watchlist", "str"), P("reason", "str"), P("volume", "int")))
def _alert(call: StepCall) -> dict[str, Any]:
    """The items and reason of a watchlist alert."""
    from zhimei.insight import list_alerts
    from zhimei.store.db import read_scope

    aid = int(call.inputs["alert_id"])
    with read_scope() as s:
        found = next((a for a in list_alerts(s, limit=1000)["items"] if a["id"] == aid), None)
    if found is None:
        raise StepFailed(f"no watchlist alert {aid} (among the latest 1000)")
    return {"asset_ids": found["asset_ids"], "watchlist": found["watchlist"], "reason": found["reason"],
            "volume": found["volume"]}
