"""智搜 search endpoints and pages: hybrid search with facets and time-coded hits, "more like this", cited
answers (问答), event timelines (事件脉络), source credibility (admin) and the re-index.

Viewers read; admins set credibility and rebuild the index. Bad input is a 422 naming the problem (never a 500).
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from zhimei.api.auth import Principal, require
from zhimei.api.routes_pages import BROWSER_AUDIO, KIND_LABELS, NOTICES, render
from zhimei.library.search import (
    MODES,
    REVIEW_STATUSES,
    SearchError,
    credibility_levels,
    more_like_this,
    reindex,
    search,
    set_credibility,
)
from zhimei.library.search.sources import LEVELS
from zhimei.store.db import read_scope
from zhimei.store.models import Asset, Rendition

__all__ = ["router", "filter_params", "SearchIn", "AskIn", "CredibilityIn", "ReindexState", "REINDEX"]

router = APIRouter(tags=["search"])
LIST_FILTERS = ("kind", "language", "source", "tags", "people", "review_status")
ASK_MODES = ("auto", "extractive", "llm")
MAX_Q = 10_000
"""Longest query accepted over HTTP (the search itself keeps the first 1,000 characters)."""
PAGE_LIMIT = 20
SEGMENT_KIND_LABELS = {"title": "标题 Title", "transcript": "转写 Speech", "ocr": "画面文字 On screen",
                       "paragraph": "段落 Text", "caption": "描述 Caption"}
MODE_LABELS = {"hybrid": "混合 Hybrid", "keyword": "关键词 Keyword", "vector": "语义 Semantic"}
ASK_MODE_LABELS = {"auto": "自动 Auto", "extractive": "摘录 Extractive", "llm": "大模型 LLM"}
REVIEW_LABELS = {"unreviewed": "未审 Unreviewed", "pending": "待审 Pending", "passed": "已通过 Passed",
                 "needs_review": "需复审 Needs review", "blocked": "已拦截 Blocked", "rejected": "已驳回 Rejected"}
CRED_LABELS = {1: "1 不可靠 unreliable", 2: "2 存疑 doubtful", 3: "3 未评级 unrated", 4: "4 可靠 reliable",
               5: "5 权威 authoritative"}
FACET_TITLES = {"kind": "类型 Kind", "language": "语言 Language", "source": "来源 Source", "tags": "标签 Tags",
                "people": "人物 People", "review_status": "审核 Review", "credibility": "可信度 Credibility",
                "month": "月份 Month"}
NOTICES.update({"source-saved": "已保存 The source's credibility was saved.",
                "reindex-started": "已开始重建索引 The search index is being rebuilt."})


# ---- shared helpers ---------------------------------------------------------------------------------

def filter_params(
    kind: list[str] = Query([], description="asset kinds (video, audio, image, article); repeat or comma-separate"),
    language: list[str] = Query([], description="languages, e.g. zh, en"),
    source: list[str] = Query([], description="source names"),
    tags: list[str] = Query([], description="tags (all of them)"),
    people: list[str] = Query([], description="person ids (all of them)"),
    review_status: list[str] = Query([], description=f"review statuses: {', '.join(REVIEW_STATUSES)}"),
    date_from: str = Query("", max_length=40, description="YYYY-MM-DD (published, else added)"),
    date_to: str = Query("", max_length=40, description="YYYY-MM-DD"),
    min_credibility: str = Query("", max_length=10, description="lowest source credibility, 1-5"),
) -> dict[str, Any]:
    """The search filters from query parameters: a list filter given once may be comma-separated."""
    out: dict[str, Any] = {}
    lists = {"kind": kind, "language": language, "source": source, "tags": tags, "people": people,
             "review_status": review_status}
    for name, values in lists.items():
        values = [v for v in values if v.strip()]
        if values:
            out[name] = values[0] if len(values) == 1 else values
    for name, value in (("date_from", date_from), ("date_to", date_to), ("min_credibility", min_credibility)):
        if value.strip():
            out[name] = value.strip()
    return out


def _searching(fn, *args: Any, **kwargs: Any) -> Any:
    """Call a search function; SearchError becomes 422, a model that cannot answer 503."""
    from zhimei.models import ModelError, NotReady

    try:
        return fn(*args, **kwargs)
    except SearchError as exc:
        raise HTTPException(422, str(exc)) from None
    except (NotReady, ModelError) as exc:
        raise HTTPException(503, f"the model behind this is not available: {exc}") from None


def _ask(question: str, filters: dict[str, Any] | None, mode: str, k: int) -> Any:
    from zhimei.library.search.answers import ask

    if mode not in ASK_MODES:
        raise SearchError(f"unknown answer mode {mode!r}; modes: {', '.join(ASK_MODES)}")
    return ask(question, filters=filters or None, mode=mode, k=k)


def _timeline(query: str, filters: dict[str, Any] | None, limit_events: int) -> Any:
    from zhimei.library.search.timeline import timeline

    return timeline(query, filters=filters or None, limit_events=limit_events)


class AskIn(BaseModel):
    """A question for the archive."""

    question: str = Field(..., description="the question (over 1,000 characters it is cut)")
    filters: dict[str, Any] | None = Field(None, description="the same filters as /api/search")
    mode: str = Field("auto", max_length=20, description="auto | extractive | llm")
    k: int = Field(8, ge=1, le=50, description="passages to read")


class SearchIn(BaseModel):
    """A search sent as JSON (for queries too long for a URL)."""

    q: str = Field("", description="the query (empty: newest assets; over 1,000 characters it is cut)")
    mode: str = Field("hybrid", max_length=20, description="hybrid | keyword | vector")
    limit: int = 20
    offset: int = 0
    group: bool = True
    filters: dict[str, Any] | None = Field(None, description="the same filters as the GET form takes")


class CredibilityIn(BaseModel):
    """A source's credibility level (1 unreliable … 5 authoritative; 3 is unrated)."""

    level: int = Field(..., ge=1, le=5)
    note: str = Field("", max_length=500)


class ReindexState:
    """The one re-index that may run at a time, in a background thread, with its progress and outcome."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.status = "idle"
        self.done = 0
        self.total = 0
        self.counts: dict[str, int] | None = None
        self.error: str | None = None
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.started_by = ""

    def snapshot(self) -> dict[str, Any]:
        """The state as JSON."""
        return {"status": self.status, "done": self.done, "total": self.total, "counts": self.counts,
                "error": self.error, "started_by": self.started_by, "started_at": self.started_at,
                "finished_at": self.finished_at}

    def claim(self, who: str) -> bool:
        """Mark a re-index as running; False when one runs already."""
        with self.lock:
            if self.status == "running":
                return False
            self.status, self.done, self.total, self.counts, self.error = "running", 0, 0, None, None
            self.started_at, self.finished_at, self.started_by = time.time(), None, who
            return True

    def run(self) -> dict[str, int]:
        """Rebuild the index (the caller claimed it) and record the outcome."""
        def progress(done: int, total: int) -> None:
            self.done, self.total = done, total

        try:
            counts = reindex(progress=progress)
        except Exception as exc:
            self.status, self.error, self.finished_at = "failed", str(exc) or type(exc).__name__, time.time()
            raise
        self.status, self.counts, self.finished_at = "done", counts, time.time()
        return counts

    def start(self) -> None:
        """Run it in a daemon thread."""
        def target() -> None:
            try:
                self.run()
            except Exception:  # recorded in the state for the status endpoint
                pass

        threading.Thread(target=target, name="zhimei-reindex", daemon=True).start()


REINDEX = ReindexState()


# ---- REST API ---------------------------------------------------------------------------------------

@router.get("/api/search", summary="Hybrid search: time-coded hits with highlighted snippets, filters and facets")
def api_search(q: str = Query("", max_length=MAX_Q, description="the query (empty: newest assets)"),
               mode: str = Query("hybrid", max_length=20, description="hybrid | keyword | vector"),
               limit: int = Query(20, description="hits per page, 1-200"),
               offset: int = Query(0, description="hits to skip"),
               group: bool = Query(True, description="one hit per asset with its other moments inside"),
               filters: dict[str, Any] = Depends(filter_params),
               _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    res = _searching(search, q, filters=filters, limit=limit, offset=offset, mode=mode, group=group)
    return res.to_dict()


@router.post("/api/search", summary="The same search with a JSON body (long queries)")
def api_search_post(body: SearchIn, _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    res = _searching(search, body.q, filters=body.filters, limit=body.limit, offset=body.offset, mode=body.mode,
                     group=body.group)
    return res.to_dict()


@router.get("/api/search/similar", summary="More like this: assets and moments similar to an asset or a segment")
def api_similar(asset_id: int | None = Query(None), segment_id: int | None = Query(None),
                limit: int = Query(10, ge=1, le=100), filters: dict[str, Any] = Depends(filter_params),
                _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    res = _searching(more_like_this, asset_id=asset_id, segment_id=segment_id, limit=limit, filters=filters)
    return res.to_dict()


@router.post("/api/ask", summary="Ask the archive: an answer whose every sentence cites its source, or a plain "
             "'not in the archive'")
def api_ask(body: AskIn, _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    return _searching(_ask, body.question, body.filters, body.mode, body.k).to_dict()


@router.get("/api/timeline", summary="Event timeline (事件脉络): matching assets grouped into events in time order")
def api_timeline(q: str = Query("", max_length=MAX_Q, description="a query or topic"),
                 limit: int = Query(20, ge=1, le=200, description="most events"),
                 filters: dict[str, Any] = Depends(filter_params),
                 _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    return _searching(_timeline, q, filters, limit).to_dict()


@router.get("/api/sources", summary="Sources with their credibility levels and asset counts")
def api_sources(_: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    return {"levels": {str(k): v for k, v in LEVELS.items()}, "items": credibility_levels()}


@router.put("/api/sources/{source:path}", summary="Set a source's credibility level (admin)")
def api_set_source(source: str, body: CredibilityIn,
                   principal: Principal = Depends(require("admin"))) -> dict[str, Any]:
    return _searching(set_credibility, source, body.level, body.note, principal.name)


@router.post("/api/search/reindex", summary="Rebuild the keyword index and vector cache from the store (admin); "
             "runs in the background unless wait=true")
def api_reindex(response: Response, wait: bool = Query(False, description="run now and answer with the counts"),
                principal: Principal = Depends(require("admin"))) -> dict[str, Any]:
    if not REINDEX.claim(principal.name):
        raise HTTPException(409, "a re-index is running already; GET /api/search/reindex shows its progress")
    if wait:
        try:
            REINDEX.run()
        except Exception as exc:
            raise HTTPException(500, f"the re-index failed: {exc}") from None
        return REINDEX.snapshot()
    REINDEX.start()
    response.status_code = 202
    return REINDEX.snapshot()


@router.get("/api/search/reindex", summary="Progress and outcome of the last re-index (admin)")
def api_reindex_status(_: Principal = Depends(require("admin"))) -> dict[str, Any]:
    return REINDEX.snapshot()


# ---- page helpers -----------------------------------------------------------------------------------

def _players(asset_ids: set[int]) -> dict[int, dict[str, str]]:
    """What plays a media hit in place: the proxy for video, browser-playable audio (as the asset page does)."""
    if not asset_ids:
        return {}
    out: dict[int, dict[str, str]] = {}
    with read_scope() as session:
        kinds = dict(session.execute(select(Asset.id, Asset.kind).where(Asset.id.in_(asset_ids))).all())
        mimes = dict(session.execute(select(Asset.id, Asset.mime).where(Asset.id.in_(asset_ids))).all())
        rends: dict[int, set[str]] = {}
        for aid, kind in session.execute(select(Rendition.asset_id, Rendition.kind)
                                         .where(Rendition.asset_id.in_(asset_ids))):
            rends.setdefault(aid, set()).add(kind)
    for aid, kind in kinds.items():
        have = rends.get(aid, set())
        base = f"/api/assets/{aid}/media/"
        if kind == "video" and "proxy" in have:
            out[aid] = {"tag": "video", "src": base + "proxy"}
        elif kind == "audio" and (mimes.get(aid) or "") in BROWSER_AUDIO:
            out[aid] = {"tag": "audio", "src": base + "original"}
        elif kind == "audio" and "audio16k" in have:
            out[aid] = {"tag": "audio", "src": base + "audio16k"}
    return out


class _Links:
    """Page URLs that add or remove one filter, keeping the rest of the query string."""

    def __init__(self, path: str, items: list[tuple[str, str]]):
        self.path = path
        self.items = [(k, v) for k, v in items if k not in ("page", "notice")]

    def url(self, items: list[tuple[str, str]]) -> str:
        return self.path + ("?" + urlencode(items) if items else "")

    def add(self, key: str, value: str) -> str:
        if key in ("min_credibility",):
            return self.url([(k, v) for k, v in self.items if k != key] + [(key, value)])
        if (key, value) in self.items:
            return self.url(self.items)
        return self.url(self.items + [(key, value)])

    def month(self, ym: str) -> str:
        year, month = (int(x) for x in ym.split("-"))
        last = (31 if month in (1, 3, 5, 7, 8, 10, 12) else 30 if month != 2
                else 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28)
        rest = [(k, v) for k, v in self.items if k not in ("date_from", "date_to")]
        return self.url(rest + [("date_from", f"{ym}-01"), ("date_to", f"{ym}-{last:02d}")])

    def remove(self, *pairs: tuple[str, str]) -> str:
        return self.url([p for p in self.items if p not in pairs])

    def page(self, n: int) -> str:
        return self.url(self.items + [("page", str(n))])


def _facet_view(facets: dict[str, list[dict[str, Any]]], links: _Links) -> list[dict[str, Any]]:
    """Facet groups for the sidebar: label, count and the link that adds the filter."""
    groups = []
    for name in ("kind", "language", "source", "tags", "people", "review_status", "credibility", "month"):
        entries = []
        for f in facets.get(name, []):
            value, label, href = str(f["value"]), str(f["label"]), None
            if name == "kind":
                label, href = KIND_LABELS.get(value, value), links.add("kind", value)
            elif name == "language":
                label = "未知 Unknown" if value == "und" else value
                href = None if value == "und" else links.add("language", value)
            elif name == "source":
                label = value or "无来源 No source"
                href = links.add("source", value) if value else None
            elif name == "review_status":
                label, href = REVIEW_LABELS.get(value, value), links.add("review_status", value)
            elif name == "credibility":
                label = CRED_LABELS.get(int(value), value)
                href = links.add("min_credibility", value)
            elif name == "month":
                href = links.month(value) if re.fullmatch(r"\d{4}-\d{2}", value) else None
            else:
                href = links.add(name, value)
            entries.append({"value": value, "label": label, "count": f["count"], "href": href})
        if entries:
            groups.append({"name": name, "title": FACET_TITLES[name], "entries": entries})
    return groups


def _active_filters(links: _Links, facets: dict[str, list[dict[str, Any]]]) -> list[dict[str, str]]:
    """Chips for the filters in force, each with the link that removes it."""
    names = {str(f["value"]): f["label"] for f in facets.get("people", [])}
    chips = []
    for key, value in links.items:
        if key in LIST_FILTERS and value.strip():
            parts = [p.strip() for p in (value.split(",") if key != "source" else [value]) if p.strip()]
            labels = {"kind": KIND_LABELS, "review_status": REVIEW_LABELS, "people": names}.get(key, {})
            chips.append({"key": key, "title": FACET_TITLES[key],
                          "label": ", ".join(labels.get(p, f"#{p}" if key == "people" else p) for p in parts),
                          "href": links.remove((key, value))})
        elif key == "min_credibility" and value:
            chips.append({"key": key, "title": FACET_TITLES["credibility"], "label": f"≥ {value}",
                          "href": links.remove((key, value))})
    dates = [(k, v) for k, v in links.items if k in ("date_from", "date_to") and v]
    if dates:
        span = " – ".join(v for _k, v in sorted(dates))
        chips.append({"key": "date", "title": "日期 Date", "label": span, "href": links.remove(*dates)})
    return chips


def _strip_markers(text: str) -> str:
    return re.sub(r"\s*\[\d+\]", "", text or "").strip()


def _answer_view(answer: Any) -> dict[str, Any]:
    """The answer's sentences with their citation links resolved to the cited moments."""
    d = answer.to_dict()
    sources = d.get("sources") or []
    sentences = []
    for sent in d.get("sentences") or []:
        cites = []
        for c in sent.get("citations") or []:  # indexes into sources; the marker shown is the source's n
            src = sources[c] if isinstance(c, int) and 0 <= c < len(sources) else None
            if src is not None and src not in cites:
                cites.append(src)
        sentences.append({"text": _strip_markers(sent.get("text", "")), "cites": cites})
    if not sentences and d.get("text"):
        sentences.append({"text": d["text"], "cites": []})
    return {**d, "sentences": sentences, "sources": sources}


# ---- pages ------------------------------------------------------------------------------------------

@router.get("/search", include_in_schema=False)
def search_page(request: Request, q: str = Query("", max_length=MAX_Q), mode: str = Query("hybrid", max_length=20),
                page: int = Query(1, ge=1, le=500), similar: int | None = Query(None),
                similar_segment: int | None = Query(None), filters: dict[str, Any] = Depends(filter_params),
                principal: Principal = Depends(require("viewer"))) -> HTMLResponse:
    links = _links(request)
    error, res, similar_title = None, None, None
    try:
        if similar is not None or similar_segment is not None:
            res = more_like_this(asset_id=similar, segment_id=similar_segment, limit=PAGE_LIMIT, filters=filters)
            if similar is not None:
                with read_scope() as session:
                    a = session.get(Asset, similar)
                    similar_title = (a.title or a.filename) if a is not None else f"#{similar}"
            else:
                similar_title = f"#seg-{similar_segment}"
        else:
            res = search(q, filters=filters, limit=PAGE_LIMIT, offset=(page - 1) * PAGE_LIMIT, mode=mode)
    except SearchError as exc:
        error = str(exc)
    hits = res.hits if res else []
    players = _players({h.asset_id for h in hits if h.asset_kind in ("video", "audio")})
    facets = res.facets if res else {}
    pages = max(1, -(-res.total // PAGE_LIMIT)) if res else 1
    return render(request, "search.html", principal, http_status=422 if error else 200, nav="search", q=q,
                  mode=mode, modes=MODES, mode_labels=MODE_LABELS, res=res, hits=hits, players=players,
                  error=error, facet_groups=_facet_view(facets, links), active=_active_filters(links, facets),
                  seg_labels=SEGMENT_KIND_LABELS, cred_labels=CRED_LABELS, similar_title=similar_title,
                  hidden=[(k, v) for k, v in links.items if k not in ("q", "mode", "similar", "similar_segment")],
                  page=page, pages=pages,
                  prev_url=links.page(page - 1) if page > 1 and not similar_title else None,
                  next_url=links.page(page + 1) if page < pages and not similar_title else None)


def _links(request: Request) -> _Links:
    return _Links(request.url.path, list(request.query_params.multi_items()))


@router.get("/ask", include_in_schema=False)
def ask_page(request: Request, q: str = Query("", max_length=MAX_Q), mode: str = Query("auto", max_length=20),
             filters: dict[str, Any] = Depends(filter_params),
             principal: Principal = Depends(require("viewer"))) -> HTMLResponse:
    answer, error = None, None
    if q.strip():
        try:
            answer = _answer_view(_ask(q, filters, mode, 8))
        except SearchError as exc:
            error = str(exc)
    return render(request, "ask.html", principal, http_status=422 if error else 200, nav="ask", q=q, mode=mode,
                  modes=ASK_MODES, mode_labels=ASK_MODE_LABELS, answer=answer, error=error,
                  seg_labels=SEGMENT_KIND_LABELS, cred_labels=CRED_LABELS,
                  hidden=[(k, v) for k, v in _links(request).items if k not in ("q", "mode")])


@router.get("/timeline", include_in_schema=False)
def timeline_page(request: Request, q: str = Query("", max_length=MAX_Q),
                  filters: dict[str, Any] = Depends(filter_params),
                  principal: Principal = Depends(require("viewer"))) -> HTMLResponse:
    tl, error = None, None
    if q.strip():
        try:
            tl = _timeline(q, filters, 30).to_dict()
        except SearchError as exc:
            error = str(exc)
    return render(request, "timeline.html", principal, http_status=422 if error else 200, nav="timeline", q=q,
                  tl=tl, error=error, hidden=[(k, v) for k, v in _links(request).items if k != "q"])


@router.get("/sources", include_in_schema=False)
def sources_page(request: Request, principal: Principal = Depends(require("admin"))) -> HTMLResponse:
    return render(request, "sources.html", principal, nav="sources", sources=credibility_levels(),
                  cred_labels=CRED_LABELS, reindex=REINDEX.snapshot())


@router.post("/sources", include_in_schema=False)
async def source_save_action(source: str = Form(..., max_length=500), level: int = Form(..., ge=1, le=5),
                             note: str = Form("", max_length=500),
                             principal: Principal = Depends(require("admin"))) -> Response:
    await run_in_threadpool(_searching, set_credibility, source, level, note, principal.name)
    return RedirectResponse("/sources?notice=source-saved", status_code=303)


@router.post("/sources/reindex", include_in_schema=False)
async def reindex_action(principal: Principal = Depends(require("admin"))) -> Response:
    if not REINDEX.claim(principal.name):
        raise HTTPException(409, "a re-index is running already")
    REINDEX.start()
    return RedirectResponse("/sources?notice=reindex-started", status_code=303)
