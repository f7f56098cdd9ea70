"""zhimei.distribute.publish — 发布: channels (RSS, Atom, JSON Feed, signed webhooks, IPTC ninjs / NewsML-G2
exports, OTT launcher), schedules and embargoes, the review gate and AIGC propagator fields at publication.

Contract for the other distribution areas: ``published_asset_ids(session, channel=None)`` (assets live now) and
``publication_times(session, asset_ids)`` (first publication time per asset).
"""

from __future__ import annotations

from zhimei.distribute.publish.channels import (
    CHANNEL_KINDS,
    check_config,
    create_channel,
    get_channel,
    list_channels,
    update_channel,
)
from zhimei.distribute.publish.errors import PublishError
from zhimei.distribute.publish.feeds import export_item, feed_document, published_media
from zhimei.distribute.publish.formats import FeedInfo, atom, json_feed, newsml, ninjs, rss
from zhimei.distribute.publish.items import AI_NOTICE, PublishedItem, build_item
from zhimei.distribute.publish.ott import PERSONAL_ROWS_HOOK, launcher_layout, reader_signature
from zhimei.distribute.publish.schedule import (
    aigc_state,
    get_publication,
    list_publications,
    make_due_live,
    parse_time,
    publication_times,
    publish,
    published_asset_ids,
    withdraw,
    withdraw_publication,
)
from zhimei.distribute.publish.webhooks import (
    deliver_once,
    list_deliveries,
    retry_delivery,
    sign,
    verify_signature,
)

__all__ = [
    "published_asset_ids", "publication_times", "PublishError", "CHANNEL_KINDS", "check_config", "create_channel",
    "get_channel", "list_channels", "update_channel", "publish", "withdraw", "withdraw_publication",
    "make_due_live", "get_publication", "list_publications", "parse_time", "aigc_state", "feed_document",
    "export_item", "published_media", "FeedInfo", "rss", "atom", "json_feed", "ninjs", "newsml", "AI_NOTICE",
    "PublishedItem", "build_item", "PERSONAL_ROWS_HOOK", "launcher_layout", "reader_signature", "deliver_once",
    "list_deliveries", "retry_delivery", "sign", "verify_signature",
]
