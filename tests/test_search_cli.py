"""`zhimei search|similar|ask|timeline|reindex|sources`: tables by default, JSON with --json, a bad query or
filter named with exit status 2."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import zhimei.jobs as jobs
from zhimei.cli import app
from zhimei.library.assets import ingest_bytes

BRIDGE = """<!doctype html><html lang="zh"><head><title>市政府批准新建跨江大桥</title></head><body>
<p>市政府今天召开常务会议，批准新建跨江大桥项目。市长李明表示，大桥将于明年三月开工，预计两年建成。</p>
<p>The city council approved the new river bridge on Monday, said Mayor Li Ming in Shanghai.</p>
</body></html>"""
WEATHER = ("# Typhoon warning for the coast\n\nThe weather service issued a typhoon warning for coastal districts. "
           "Ferries were cancelled and schools closed as the storm approached.\n")


def _run(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.mark.slow
def test_search_ask_timeline_and_sources_from_the_command_line(zhome):
    bridge = ingest_bytes(BRIDGE.encode(), "bridge.html", source="city-news").asset_id
    weather = ingest_bytes(WEATHER.encode(), "typhoon.md", source="wire").asset_id
    jobs.drain()

    out = _run("search", "大桥", "--json", "--mode", "keyword")
    assert out.exit_code == 0, out.output
    res = json.loads(out.stdout)
    assert res["hits"][0]["asset_id"] == bridge and "<mark>大桥</mark>" in res["hits"][0]["snippet"]
    out = _run("search", "council")  # a readable table: title, snippet, kind, credibility
    assert out.exit_code == 0, out.output
    assert "市政府批准新建跨江大桥" in out.stdout and "article/paragraph" in out.stdout and "council" in out.stdout
    assert "1 results" in out.stdout or "2 results" in out.stdout
    out = _run("search", "--source", "wire", "--json")
    assert [h["asset_id"] for h in json.loads(out.stdout)["hits"]] == [weather]
    out = _run("search", "bridge", "--kind", "video", "--json")
    assert json.loads(out.stdout)["hits"] == []
    out = _run("search", "bridge", "--kind", "video")
    assert out.exit_code == 0 and "nothing in the archive matches" in out.output
    for q in ('"OR* (', "NEAR(", "😀", "x" * 10_000):
        out = _run("search", q, "--json")
        assert out.exit_code == 0, (q[:20], out.output[-300:])

    # bad input: the problem named, exit status 2
    for args, word in ((["--kind", "foo"], "unknown kind"), (["--mode", "fuzzy"], "unknown search mode"),
                       (["--from", "yesterday"], "date_from"), (["--limit", "0"], "limit"),
                       (["--min-credibility", "9"], "min_credibility")):
        out = _run("search", "bridge", *args)
        assert out.exit_code == 2 and word in out.output, (args, out.output)

    out = _run("similar", "--asset", str(bridge), "--json")
    assert out.exit_code == 0 and [h["asset_id"] for h in json.loads(out.stdout)["hits"]] == [weather]
    out = _run("similar")
    assert out.exit_code == 2 and "asset_id or segment_id" in out.output

    # source credibility
    out = _run("sources", "set", "wire", "5", "--note", "checked")
    assert out.exit_code == 0 and "wire: 5 (authoritative)" in out.stdout
    out = _run("sources", "set", "wire", "7")
    assert out.exit_code == 2 and "credibility level must be" in out.output
    items = {s["source"]: s for s in json.loads(_run("sources", "list", "--json").stdout)}
    assert items["wire"]["level"] == 5 and items["wire"]["updated_by"] == "cli" and items["city-news"]["level"] == 3
    assert "authoritative" in _run("sources", "list").stdout
    out = _run("search", "--min-credibility", "4", "--json")
    assert [(h["asset_id"], h["credibility"]) for h in json.loads(out.stdout)["hits"]] == [(weather, 5)]

    # re-index
    out = _run("reindex", "--json")
    assert out.exit_code == 0, out.output
    counts = json.loads(out.stdout)
    assert counts["assets"] == 2 and counts["documents"] >= 5
    assert "documents" in _run("reindex", "--keyword-only").stdout

    # cited answers and timelines
    out = _run("ask", "What did the city council approve?", "--json")
    assert out.exit_code == 0, out.output
    answer = json.loads(out.stdout)
    assert answer["found"] and answer["sources"][0]["asset_id"] == bridge and "[1]" in answer["text"]
    out = _run("ask", "What did the city council approve?")
    assert out.exit_code == 0 and "[1]" in out.stdout and f"#{bridge}" in out.stdout and "Sources" in out.stdout
    out = _run("ask", "Who won the 1930 football world cup in Uruguay?")
    assert out.exit_code == 0 and "does not contain the answer" in out.stdout
    out = _run("ask", "  ")
    assert out.exit_code == 2 and "empty" in out.output
    out = _run("ask", "bridge", "--mode", "psychic")
    assert out.exit_code == 2 and "mode" in out.output
    out = _run("timeline", "bridge", "--json")
    assert out.exit_code == 0, out.output
    events = json.loads(out.stdout)["events"]
    assert any(bridge in [a["asset_id"] for a in e["assets"]] for e in events)
    out = _run("timeline", "bridge")
    assert out.exit_code == 0 and "市政府批准新建跨江大桥" in out.stdout and "where" in out.stdout
    out = _run("timeline", "")
    assert out.exit_code == 2 and "query" in out.output
