"""RSS/Atom feeds polled on a schedule: each new entry becomes an article asset.

Polls use ETag / If-Modified-Since; entries already taken in (same source + external id) are skipped, so
no entry is ingested twice across polls. Network, HTTP and parse errors are recorded on the feed row.
"""

from __future__ import annotations

import calendar
import hashlib
import html
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import or_, select

from zhimei.library.assets import ingest_bytes, safe_filename
from zhimei.library.ingest import UnsafeURL, check_url, http_client
from zhimei.settings import get_settings
from zhimei.store.db import session_scope
from zhimei.store.models import Asset, Feed, utcnow

__all__ = ["FeedError", "add_feed", "list_feeds", "remove_feed", "poll_feed", "poll_due_feeds", "entry_html"]

_USER_AGENT = "zhimei/0.1 feed poller"


class FeedError(RuntimeError):
    """A poll failed (network, HTTP status, not a feed); the message is also stored as the feed's last_error."""


def add_feed(url: str, interval_seconds: float | None = None) -> int:
    """Add an http(s) feed (idempotent on the URL: the existing id is returned, its interval updated if given)."""
    try:
        url = check_url(url)
    except UnsafeURL as exc:
        raise ValueError(str(exc)) from None
    if interval_seconds is not None and not interval_seconds > 0:
        raise ValueError("the poll interval must be a positive number of seconds")
    with session_scope() as session:
        feed = session.scalars(select(Feed).where(Feed.url == url)).first()
        if feed is None:
            feed = Feed(url=url, interval_seconds=interval_seconds or get_settings().feed_poll_seconds,
                        enabled=True)
            session.add(feed)
            session.flush()
        elif interval_seconds is not None:
            feed.interval_seconds = interval_seconds
        return feed.id


def _feed_dict(f: Feed) -> dict[str, Any]:
    return {"id": f.id, "url": f.url, "title": f.title, "interval_seconds": f.interval_seconds,
            "last_polled_at": f.last_polled_at.isoformat() if f.last_polled_at else None,
            "last_error": f.last_error, "enabled": f.enabled}


def list_feeds() -> list[dict[str, Any]]:
    """Every feed with its schedule, last poll time (ISO 8601) and last error."""
    with session_scope() as session:
        return [_feed_dict(f) for f in session.scalars(select(Feed).order_by(Feed.id))]


def remove_feed(feed_id: int) -> bool:
    """Delete a feed (its assets stay); False if there was none with that id."""
    with session_scope() as session:
        feed = session.get(Feed, feed_id)
        if feed is None:
            return False
        session.delete(feed)
        return True


def _fetch(url: str, etag: str | None, modified: str | None) -> tuple[int, bytes, dict[str, str]]:
    import httpx

    s = get_settings()
    headers = {"User-Agent": _USER_AGENT, "Accept": "application/rss+xml, application/atom+xml, "
               "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"}
    if etag:
        headers["If-None-Match"] = etag
    if modified:
        headers["If-Modified-Since"] = modified
    limit = s.max_text_bytes
    try:
        with http_client() as client:
            with client.stream("GET", url, headers=headers) as resp:
                if resp.status_code == 304:
                    return 304, b"", dict(resp.headers)
                if resp.status_code >= 400:
                    raise FeedError(f"HTTP {resp.status_code} {resp.reason_phrase}")
                buf = io.BytesIO()
                for chunk in resp.iter_bytes(1024 * 256):
                    if buf.tell() + len(chunk) > limit:
                        raise FeedError(f"the feed is larger than {limit:,} bytes")
                    buf.write(chunk)
                return resp.status_code, buf.getvalue(), dict(resp.headers)
    except UnsafeURL as exc:
        raise FeedError(str(exc)) from None
    except httpx.TooManyRedirects:
        raise FeedError("more than 5 redirects") from None
    except httpx.TimeoutException:
        raise FeedError(f"timed out after {s.http_timeout_seconds:g} s") from None
    except httpx.HTTPError as exc:
        raise FeedError(f"cannot fetch the feed: {type(exc).__name__}: {exc}") from None


def _entry_time(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        t = entry.get(key)
        if t:
            try:
                return datetime.fromtimestamp(calendar.timegm(t), UTC)
            except (OverflowError, ValueError, TypeError):
                continue
    return None


def _entry_content(entry: Any) -> tuple[str, bool]:
    """(content, is_html): the entry's full content if any, else its summary."""
    for c in entry.get("content") or []:
        value = c.get("value") or ""
        if value.strip():
            return value, "html" in (c.get("type") or "text/html")
    summary = entry.get("summary") or ""
    detail = entry.get("summary_detail") or {}
    return summary, "html" in (detail.get("type") or "text/html")


def entry_html(title: str, content: str, is_html: bool, *, link: str = "", author: str = "",
               language: str = "", published: datetime | None = None) -> str:
    """A minimal HTML document for one feed entry (what is stored as the article's original)."""
    if not is_html:
        content = "".join(f"<p>{html.escape(p.strip())}</p>" for p in content.split("\n\n") if p.strip())
    head = [f"<meta charset=\"utf-8\"><title>{html.escape(title)}</title>"]
    if link:
        head.append(f'<link rel="canonical" href="{html.escape(link, quote=True)}">')
    if author:
        head.append(f'<meta name="author" content="{html.escape(author, quote=True)}">')
    if published:
        head.append(f'<meta property="article:published_time" content="{published.isoformat()}">')
    lang = f' lang="{html.escape(language, quote=True)}"' if language else ""
    return (f"<!DOCTYPE html>\n<html{lang}><head>{''.join(head)}</head>\n<body><article>"
            f"<h1>{html.escape(title)}</h1>\n{content}</article></body></html>\n")


def _record(feed_id: int, *, error: str | None, title: str | None = None, etag: str | None = None,
            modified: str | None = None, keep_validators: bool = True) -> None:
    with session_scope() as session:
        feed = session.get(Feed, feed_id)
        if feed is None:
            return
        feed.last_polled_at = utcnow()
        feed.last_error = error[:2000] if error else None
        if title and not feed.title:
            feed.title = title[:500]
        if not keep_validators:
            feed.etag = etag[:500] if etag else None
            feed.modified = modified[:200] if modified else None


def poll_feed(feed_id: int) -> int:
    """Fetch one feed and ingest its new entries; returns how many assets were created.

    Raises FeedError (after recording it as the feed's last_error) when the feed cannot be fetched or parsed.
    """
    import feedparser

    with session_scope() as session:
        feed = session.get(Feed, feed_id)
        if feed is None:
            raise FeedError(f"no feed with id {feed_id}")
        url, etag, modified, stored_title = feed.url, feed.etag, feed.modified, feed.title
    try:
        status, body, headers = _fetch(url, etag, modified)
    except FeedError as exc:
        _record(feed_id, error=str(exc))
        raise
    if status == 304:
        _record(feed_id, error=None)
        return 0
    headers_lc = {k.lower(): v for k, v in headers.items()}
    # no content-location: feedparser would otherwise rewrite relative guids into URLs of this feed's host
    parsed = feedparser.parse(io.BytesIO(body), response_headers={
        "content-type": headers_lc.get("content-type", "application/xml")})
    entries = list(parsed.entries)
    if not entries:
        if parsed.get("bozo"):
            err = f"not a valid RSS/Atom feed: {parsed.get('bozo_exception')}"
            _record(feed_id, error=err)
            raise FeedError(err)
        if not parsed.get("version"):
            err = "not an RSS/Atom feed (no feed elements found)"
            _record(feed_id, error=err)
            raise FeedError(err)
    feed_title = (parsed.feed.get("title") or "").strip()
    source = stored_title or feed_title or (urlsplit(url).hostname or url)
    language = parsed.feed.get("language") or ""
    created, errors = 0, []
    for entry in entries:
        try:
            if _ingest_entry(entry, source=source, feed_url=url, language=language):
                created += 1
        except Exception as exc:  # one bad entry never stops the rest
            errors.append(f"{(entry.get('title') or entry.get('id') or '?')[:80]}: {exc}")
    error = None
    if errors:
        error = f"{len(errors)} of {len(entries)} entries refused; first: {errors[0]}"
    elif parsed.get("bozo"):
        error = None  # malformed but readable: entries were kept
    _record(feed_id, error=error, title=feed_title or source, etag=headers_lc.get("etag"),
            modified=headers_lc.get("last-modified"), keep_validators=False)
    return created


def _ingest_entry(entry: Any, *, source: str, feed_url: str, language: str) -> bool:
    link = (entry.get("link") or "").strip()
    title = (entry.get("title") or "").strip() or link or "untitled"
    content, is_html = _entry_content(entry)
    external_id = (entry.get("id") or link).strip()
    if not external_id:
        external_id = "sha256:" + hashlib.sha256((title + "\n" + content).encode("utf-8")).hexdigest()
    external_id = external_id[:1000]
    with session_scope() as session:
        seen = session.scalars(
            select(Asset.id).where(Asset.source == source, Asset.external_id == external_id)
        ).first()
    if seen is not None:
        return False
    author = (entry.get("author") or "").strip()
    published = _entry_time(entry)
    doc = entry_html(title, content, is_html, link=link, author=author,
                     language=entry.get("language") or language, published=published)
    meta: dict[str, Any] = {"url": link, "feed": feed_url}
    if author:
        meta["author"] = author
    tags = [t.get("term") for t in entry.get("tags") or [] if t.get("term")]
    if tags:
        meta["keywords"] = tags[:50]
    filename = safe_filename(title[:80].replace("/", "-").replace("\\", "-"), fallback="feed-entry") + ".html"
    res = ingest_bytes(doc.encode("utf-8"), filename, source=source, external_id=external_id, title=title,
                       published_at=published, meta=meta)
    return res.created


def poll_due_feeds(force: bool = False) -> list[tuple[str, int, str | None]]:
    """Poll every enabled feed whose interval has passed (all with `force`): [(url, new items, error or None)].

    Never raises for a feed's failure; it is returned and recorded on the feed row.
    """
    now = utcnow()
    with session_scope() as session:
        q = select(Feed).where(Feed.enabled.is_(True)).order_by(Feed.id)
        if not force:
            q = q.where(or_(Feed.last_polled_at.is_(None), Feed.last_polled_at <= now))
        feeds = [(f.id, f.url, f.last_polled_at, f.interval_seconds) for f in session.scalars(q)]
    results: list[tuple[str, int, str | None]] = []
    for feed_id, url, last, interval in feeds:
        if not force and last is not None and last + timedelta(seconds=interval or 0) > now:
            continue
        try:
            results.append((url, poll_feed(feed_id), None))
        except FeedError as exc:
            results.append((url, 0, str(exc)))
        except Exception as exc:  # database or storage trouble: record and go on with the next feed
            msg = f"{type(exc).__name__}: {exc}"
            try:
                _record(feed_id, error=msg)
            except Exception:
                pass
            results.append((url, 0, msg))
    return results
