"""Signed webhooks to a real HTTP server on 127.0.0.1: the receiver verifies the HMAC itself; a 500-answering
server gets retries and then the dead-letter list; a hanging server times out; retries never duplicate."""

from __future__ import annotations

import pytest
from publish_helpers import Receiver, reviewed_article, use_stages

import zhimei.jobs as jobs
from zhimei.distribute.publish import (
    PublishError,
    create_channel,
    list_deliveries,
    publish,
    retry_delivery,
    sign,
    verify_signature,
    withdraw,
)
from zhimei.store.db import read_scope, session_scope
from zhimei.store.models import Job
from zhimei.store.models_publish import PublishDelivery


@pytest.fixture
def story(zhome, monkeypatch):
    use_stages(monkeypatch)
    return reviewed_article("突发新闻", "今天上午城区发生一起交通事故，无人受伤。")


def _channel(name: str, url: str, **config) -> str:
    with session_scope() as s:
        return create_channel(s, name, "webhook", config={"url": url, **config})["secret"]


def test_signed_delivery_verified_by_the_receiver_and_never_duplicated(story):
    with Receiver() as rx:
        rx.secret = _channel("partner", rx.url)
        p = publish(story, "partner")
        assert p["status"] == "live"
        assert rx.requests == []  # nothing is sent inside the request: the job system delivers
        jobs.drain()
        assert len(rx.requests) == 1
        req = rx.requests[0]
        assert req["valid"], "the receiver's own HMAC check failed"
        assert req["headers"]["X-Zhimei-Event"] == "publish"
        body = req["json"]
        assert body["event"] == "publish" and body["item"]["asset_id"] == story
        assert body["item"]["title"] == "突发新闻" and body["delivery"] == req["headers"]["X-Zhimei-Delivery"]
        assert verify_signature(rx.secret, req["headers"]["X-Zhimei-Timestamp"],
                                req["headers"]["X-Zhimei-Signature"], req["body"])
        assert not verify_signature("wrong-secret-0123456789", req["headers"]["X-Zhimei-Timestamp"],
                                    req["headers"]["X-Zhimei-Signature"], req["body"])
        assert not verify_signature(rx.secret, req["headers"]["X-Zhimei-Timestamp"],
                                    req["headers"]["X-Zhimei-Signature"], req["body"] + b" ")
        # publishing again, and running the queue again, send nothing new
        publish(story, "partner")
        jobs.drain()
        assert len(rx.requests) == 1
        [d] = list_deliveries(channel="partner")["items"]
        assert d["status"] == "delivered" and d["attempts"] == 1 and d["history"][0]["status_code"] == 200
        with pytest.raises(PublishError, match="delivered already") as exc:
            retry_delivery(d["id"])
        assert exc.value.status == 409
        # withdrawing tells the receiver, once
        withdraw(story, "partner", reason="legal")
        jobs.drain()
        jobs.drain()
        assert [r["json"]["event"] for r in rx.requests] == ["publish", "withdraw"]
        assert all(r["valid"] for r in rx.requests)
        assert rx.requests[1]["headers"]["X-Zhimei-Delivery"] != rx.requests[0]["headers"]["X-Zhimei-Delivery"]


def test_a_500_answering_endpoint_gets_retries_then_the_dead_letter_list(story):
    with Receiver(status=500) as rx:
        rx.secret = _channel("flaky", rx.url, max_attempts=3, backoff_seconds=0)
        publish(story, "flaky")
        jobs.drain()
        assert len(rx.requests) == 3  # three attempts, then it stops
        keys = {r["headers"]["X-Zhimei-Delivery"] for r in rx.requests}
        assert len(keys) == 1 and all(r["valid"] for r in rx.requests)  # one message id over every retry
        dead = list_deliveries(status="dead")["items"]
        assert len(dead) == 1 and dead[0]["attempts"] == 3 and dead[0]["last_status_code"] == 500
        assert [h["status_code"] for h in dead[0]["history"]] == [500, 500, 500]
        with read_scope() as s:  # the jobs themselves finished; the delivery row holds the failure
            statuses = [j.status for j in s.query(Job).filter(Job.stage == "publish.deliver")]
        assert statuses == ["done", "done", "done"]
        # the receiver is fixed; an editor retries the dead letter: delivered, same message id
        rx.status = 200
        retried = retry_delivery(dead[0]["id"], actor="t-editor")
        assert retried["status"] == "pending"
        jobs.drain()
        assert len(rx.requests) == 4 and rx.requests[-1]["headers"]["X-Zhimei-Delivery"] in keys
        assert list_deliveries(status="dead")["total"] == 0
        assert list_deliveries(status="delivered")["items"][0]["attempts"] == 4


def test_backoff_doubles_and_waits_for_its_time(story):
    with Receiver(status=503) as rx:
        rx.secret = _channel("slow", rx.url, max_attempts=4, backoff_seconds=60)
        publish(story, "slow")
        jobs.drain()
        assert len(rx.requests) == 1  # the second attempt waits a minute
        with read_scope() as s:
            d = s.query(PublishDelivery).one()
            waiting = s.query(Job).filter(Job.stage == "publish.deliver", Job.status == "queued").one()
            assert d.status == "retrying" and d.next_attempt_at == waiting.not_before
            assert 55 <= (d.next_attempt_at - d.updated_at).total_seconds() <= 65


def test_a_hanging_endpoint_times_out_without_blocking(story):
    with Receiver(hang=30) as rx:
        rx.secret = _channel("stuck", rx.url, max_attempts=1, timeout_seconds=0.5)
        with Receiver() as ok:
            ok.secret = _channel("healthy", ok.url)
            publish(story, "stuck")
            publish(story, "healthy")
            jobs.drain()
            assert len(ok.requests) == 1 and ok.requests[0]["valid"]
        assert len(rx.requests) == 1
        [d] = list_deliveries(channel="stuck")["items"]
        assert d["status"] == "dead" and "timed out" in d["last_error"] and d["last_status_code"] is None


def test_signature_format():
    sig = sign("s3cret-s3cret-s3cret", 1700000000, b'{"a":1}')
    assert sig.startswith("sha256=") and len(sig) == 7 + 64
    assert verify_signature("s3cret-s3cret-s3cret", "1700000000", sig, b'{"a":1}', now=1700000100)
    assert not verify_signature("s3cret-s3cret-s3cret", "1700000000", sig, b'{"a":1}', now=1700009999)  # too old
    assert not verify_signature("s3cret-s3cret-s3cret", None, sig, b'{"a":1}')


def test_webhook_channel_config_is_checked(zhome):
    with session_scope() as s:
        for config, match in [({}, "config.url"), ({"url": "ftp://x.org/h"}, "not an http"),
                              ({"url": "http://x.org/h", "max_attempts": 0}, "between 1 and 30"),
                              ({"url": "http://x.org/h", "rows": []}, "not used by a webhook")]:
            with pytest.raises(PublishError, match=match):
                create_channel(s, "hook", "webhook", config=config)


def test_internal_receivers_are_refused_unless_allowed(story, monkeypatch):
    from zhimei.settings import reset_settings

    monkeypatch.delenv("ZHIMEI_FETCH_PRIVATE_URLS")
    reset_settings()
    with Receiver() as rx:
        rx.secret = _channel("internal", rx.url, max_attempts=1)
        publish(story, "internal")
        jobs.drain()
        assert rx.requests == []
        [d] = list_deliveries(channel="internal")["items"]
        assert d["status"] == "dead" and "non-public address" in d["last_error"]
