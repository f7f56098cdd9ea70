"""Articles in: the extract_text stage on real HTML, Markdown, TXT (GB18030, UTF-16, Big5), DOCX, PDF and NINJS
files, and the refusals for bad input (undecodable text, malformed JSON, encrypted/corrupt PDF, non-DOCX ZIP)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from conftest import SAMPLES, need_service
from sqlalchemy import select

from zhimei.jobs import drain, enqueue_pipeline
from zhimei.library.assets import IngestError, ingest_bytes, ingest_file
from zhimei.library.catalog import asset_detail
from zhimei.library.text import ExtractError, extract
from zhimei.library.text.encoding import UNDECODABLE, decode_text, detect_language, split_paragraphs
from zhimei.settings import reset_settings
from zhimei.store.db import session_scope
from zhimei.store.models import Asset, Segment

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture
def lib(zhome, monkeypatch):
    """A fresh library whose pipeline is the text stages only."""
    monkeypatch.setenv("ZHIMEI_STAGE_MODULES", '["zhimei.library.text_stages"]')
    reset_settings()
    return zhome


def process(data: bytes | Path, filename: str | None = None, **kwargs) -> dict:
    """Ingest, run the jobs, and return the asset's detail."""
    if isinstance(data, Path):
        res = ingest_file(data, filename=filename, **kwargs)
    else:
        res = ingest_bytes(data, filename or "upload", **kwargs)
    drain()
    with session_scope() as s:
        return asset_detail(s, res.asset_id)


def paragraphs(detail: dict) -> list[dict]:
    """The asset's paragraph segments as stored (with their meta), in order."""
    with session_scope() as s:
        rows = s.scalars(select(Segment).where(Segment.asset_id == detail["id"], Segment.kind == "paragraph")
                         .order_by(Segment.seq)).all()
        return [{"seq": r.seq, "text": r.text, "char_start": r.char_start, "char_end": r.char_end,
                 "language": r.language, "meta": r.meta} for r in rows]


def assert_offsets(detail: dict) -> str:
    """Offsets index the paragraphs joined by a blank line; returns that joined text."""
    segs = paragraphs(detail)
    joined = "\n\n".join(s["text"] for s in segs)
    assert [s["seq"] for s in segs] == list(range(len(segs)))
    for s in segs:
        assert joined[s["char_start"]:s["char_end"]] == s["text"]
    if segs:
        assert segs[0]["char_start"] == 0 and segs[-1]["char_end"] == len(joined)
    return joined


# --- a real PDF with a text layer, written object by object (pypdf reads it like any other) ---------------

def _pdf_str(s: str) -> str:
    return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: list[list[list[str]]], title: str | None = None, author: str | None = None,
             lang: str | None = None) -> bytes:
    """pages → paragraphs → lines of Latin text in Helvetica; paragraphs are set 30 pt apart, lines 14 pt."""
    objs: dict[int, bytes] = {}
    page_ids = [4 + 2 * i for i in range(len(pages))]
    info_id = 4 + 2 * len(pages)
    objs[1] = ("<< /Type /Catalog /Pages 2 0 R" + (f" /Lang ({lang})" if lang else "") + " >>").encode()
    objs[2] = f"<< /Type /Pages /Kids [{' '.join(f'{p} 0 R' for p in page_ids)}] /Count {len(pages)} >>".encode()
    objs[3] = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    for pid, paras in zip(page_ids, pages, strict=True):
        ops = ["BT", "/F1 11 Tf", "72 740 Td"]
        for i, para in enumerate(paras):
            if i:
                ops.append("0 -30 Td")
            for j, line in enumerate(para):
                if j:
                    ops.append("0 -14 Td")
                ops.append(f"({_pdf_str(line)}) Tj")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objs[pid] = (f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >>"
                     f" /Contents {pid + 1} 0 R >>").encode()
        objs[pid + 1] = b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"
    info = [f"/Title ({_pdf_str(title)})"] if title else []
    info += [f"/Author ({_pdf_str(author)})"] if author else []
    info.append("/CreationDate (D:20240501120000Z)")
    objs[info_id] = ("<< " + " ".join(info) + " >>").encode()
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for oid in sorted(objs):
        offsets[oid] = len(out)
        out += f"{oid} 0 obj\n".encode() + objs[oid] + b"\nendobj\n"
    xref = len(out)
    size = max(objs) + 1
    out += f"xref\n0 {size}\n".encode() + b"0000000000 65535 f \n"
    out += b"".join(f"{offsets[oid]:010d} 00000 n \n".encode() for oid in range(1, size))
    out += f"trailer\n<< /Size {size} /Root 1 0 R /Info {info_id} 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


COUNCIL_PDF_PAGES = [
    [["The city council approved next year's budget on Monday after a", "debate that lasted most of the afternoon."],
     ["Opposition members said the plan (which raises parking fees)", "was unfair to small shops in the centre."]],
    [["The new fees take effect in March."]],
]


# --- HTML -------------------------------------------------------------------------------------------------

def test_html_article_drops_boilerplate_and_reads_metadata(lib):
    d = process(SAMPLES / "sample-article.html")
    assert d["status"] == "ready", d["failure_reason"]
    joined = assert_offsets(d)
    segs = paragraphs(d)
    assert segs[0]["text"] == "滨江新区首座社区图书馆今日开放"
    assert "世界读书日" in segs[1]["text"]
    for boilerplate in ("首页", "本地新闻", "版权所有", "相关阅读", "隐私政策", "tracking", "登录"):
        assert boilerplate not in joined
    assert d["title"] == "滨江新区首座社区图书馆今日开放"  # og:title, not the <title> with the site name
    assert d["language"] == "zh-CN"
    assert d["published_at"].startswith("2024-04-23T01:30:00")
    assert d["meta"]["author"] == "李晓明"
    assert d["meta"]["keywords"] == ["图书馆", "滨江新区", "社区", "阅读"]
    assert d["meta"]["source_url"] == "https://news.example.org/2024/04/23/library.html"
    assert d["meta"]["paragraphs"] == len(segs) == 6
    english = [s for s in segs if s["text"].startswith("The library also keeps")]
    assert english and english[0]["language"] == "en"
    assert all(s["language"] == "zh-CN" for s in segs if s is not english[0])


def test_html_segments_in_the_database_match_the_detail(lib):
    d = process(SAMPLES / "sample-article.html")
    with session_scope() as s:
        rows = s.scalars(select(Segment).where(Segment.asset_id == d["id"]).order_by(Segment.seq)).all()
        assert [r.kind for r in rows] == ["paragraph"] * 6
        assert rows[0].meta == {"heading": 1}
        assert rows[0].text == "滨江新区首座社区图书馆今日开放"


def test_html_without_article_structure_falls_back_to_paragraphs(lib):
    html = ("<html><head><title>短讯</title></head><body><nav><a href='/'>首页</a></nav>"
            "<p>市气象台发布大风蓝色预警。</p><footer><p>© 城市晚报</p></footer></body></html>")
    d = process(html.encode("utf-8"), "brief.html")
    assert d["status"] == "ready"
    texts = [s["text"] for s in paragraphs(d)]
    assert "市气象台发布大风蓝色预警。" in texts
    assert not any("首页" in t for t in texts)
    assert d["title"] == "短讯"
    assert d["language"] == "zh"


def test_html_declared_charset_gbk_and_wrong_lang_attribute(lib):
    html = ('<html lang="en"><head><meta charset="gbk"><title>地铁新线开通</title></head><body><article>'
            "<p>地铁五号线今天正式开通运营，全线共设站十八座，沿线居民出行将更加便利。</p>"
            "<p>首班车早上六点发车，末班车晚上十一点发车。</p></article></body></html>")
    d = process(html.encode("gbk"), "metro.html")
    assert d["status"] == "ready", d["failure_reason"]
    assert [s["text"] for s in paragraphs(d)] == [
        "地铁五号线今天正式开通运营，全线共设站十八座，沿线居民出行将更加便利。",
        "首班车早上六点发车，末班车晚上十一点发车。"]
    assert d["language"] == "zh"  # the page says lang="en" but is plainly Chinese
    assert d["meta"]["language_declared"] == "en"


def test_explicit_title_is_kept(lib):
    d = process(SAMPLES / "sample-article.html", title="编辑部指定标题")
    assert d["title"] == "编辑部指定标题"


# --- Markdown and plain text ------------------------------------------------------------------------------

def test_markdown_front_matter_headings_lists_and_wrapped_chinese(lib):
    d = process(SAMPLES / "sample-article.md")
    assert d["status"] == "ready"
    assert_offsets(d)
    segs = paragraphs(d)
    texts = [s["text"] for s in segs]
    assert d["title"] == "River clean-up volunteers collect two tonnes of litter"
    assert d["language"] == "en"
    assert d["published_at"].startswith("2024-06-05T08:00:00")
    assert d["meta"]["author"] == "Maria Santos"
    assert d["meta"]["keywords"] == ["environment", "volunteers", "river"]
    assert segs[0]["meta"] == {"heading": 1}
    assert "1,240 plastic bottles" in texts  # list items are paragraphs of their own
    assert any(t.startswith("More than three hundred volunteers spent Saturday morning on the banks of the "
                            "Millbrook river,") for t in texts)
    chinese = next(t for t in texts if t.startswith("来自附近中学"))
    assert "活动，“看到河岸" in chinese  # the hard line break inside Chinese leaves no space
    assert next(s for s in segs if s["text"] == chinese)["language"] == "zh"
    assert "zhimei sample article" not in " ".join(texts)  # HTML comments are not text


def test_txt_in_gb18030_joins_wrapped_chinese_lines(lib):
    text = ("本报讯　今年一季度，全市完成造林面积一万二千亩，\n比去年同期增长百分之十五。\n\n"
            "林业部门表示，\n下一步将重点推进城郊生态廊道建设。\n")
    d = process(text.encode("gb18030"), "forest.txt")
    assert d["status"] == "ready", d["failure_reason"]
    texts = [s["text"] for s in paragraphs(d)]
    assert texts == ["本报讯 今年一季度，全市完成造林面积一万二千亩，比去年同期增长百分之十五。",
                     "林业部门表示，下一步将重点推进城郊生态廊道建设。"]
    assert d["language"] == "zh"
    assert_offsets(d)


def test_txt_in_utf16_with_bom(lib):
    text = "Storm warning issued\r\nfor the coast.\r\n\r\nResidents are advised to stay indoors tonight.\r\n"
    d = process(text.encode("utf-16"), "storm.txt")
    assert d["status"] == "ready", d["failure_reason"]
    assert [s["text"] for s in paragraphs(d)] == ["Storm warning issued for the coast.",
                                                  "Residents are advised to stay indoors tonight."]
    assert d["language"] == "en"


def test_txt_in_big5_is_not_mistaken_for_gb18030(lib):
    text = "香港天文台今日發出強烈季候風信號，市民應注意保暖。\n\n預料明日氣溫進一步下降。"
    d = process(text.encode("big5"), "hko.txt")
    assert d["status"] == "ready", d["failure_reason"]
    assert [s["text"] for s in paragraphs(d)] == text.split("\n\n")


def test_txt_control_characters_and_nuls_are_removed(lib):
    # ingest refuses NULs in the first 4 KiB as binary; one further in is stripped by the stage
    filler = "Filler sentence for the first few kilobytes of the file. " * 80
    text = filler + "\n\nLine\x07 one\x1b with  odd\t\tspacing.\n\nSecond\u200b para\x00graph."
    d = process(text.encode("utf-8"), "ctl.txt")
    assert d["status"] == "ready", d["failure_reason"]
    assert [s["text"] for s in paragraphs(d)][1:] == ["Line one with odd spacing.", "Second paragraph."]


def test_whitespace_only_text_is_done_with_no_paragraphs(lib):
    d = process(b"   \n\n \t \n", "blank.txt")
    assert d["status"] == "ready"
    assert paragraphs(d) == []
    assert d["meta"]["note"] == "no text found in the document"


# --- DOCX --------------------------------------------------------------------------------------------------

def make_docx(title: str | None = None) -> bytes:
    import docx

    document = docx.Document()
    if title:
        document.core_properties.title = title
    document.core_properties.author = "王芳"
    document.core_properties.language = "zh-CN"
    document.add_heading("春运首日客流平稳", level=1)
    document.add_paragraph("今天是春运第一天，全市各火车站、汽车站客流总体平稳有序。")
    document.add_paragraph("铁路部门预计，今年春运期间发送旅客将超过八百万人次。")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "车站", "发送人数"
    table.cell(1, 0).text, table.cell(1, 1).text = "东站", "12万"
    document.add_paragraph("Officials said extra trains would run on the busiest days.")
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def test_docx_paragraphs_tables_and_heading_title(lib):
    d = process(make_docx(), "chunyun.docx")
    assert d["status"] == "ready", d["failure_reason"]
    assert d["mime"] == DOCX_MIME
    texts = [s["text"] for s in paragraphs(d)]
    assert texts == ["春运首日客流平稳", "今天是春运第一天，全市各火车站、汽车站客流总体平稳有序。",
                     "铁路部门预计，今年春运期间发送旅客将超过八百万人次。", "车站 | 发送人数", "东站 | 12万",
                     "Officials said extra trains would run on the busiest days."]
    assert d["title"] == "春运首日客流平稳"
    assert d["language"] == "zh-CN"
    assert d["meta"]["author"] == "王芳"
    assert d["published_at"] is None and d["meta"]["created"]
    assert paragraphs(d)[-1]["language"] == "en"
    assert_offsets(d)


def test_docx_core_title_wins(lib):
    d = process(make_docx(title="春运报道（终稿）"), "final.docx")
    assert d["title"] == "春运报道（终稿）"


def test_docx_with_broken_xml_fails_with_a_reason(lib):
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(make_docx())) as src, zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "word/document.xml":
                data = data[: len(data) // 2]  # cut off mid-element
            dst.writestr(info, data)
    d = process(buf.getvalue(), "cut.docx")
    assert d["status"] == "failed"
    assert "the DOCX file is corrupt" in d["failure_reason"]


def test_zip_that_is_not_docx_is_refused_at_ingest(lib, tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("photos/readme.txt", "not a word document")
    with pytest.raises(IngestError, match="ZIP archives are not ingested"):
        ingest_bytes(buf.getvalue(), "story.docx")


def test_empty_file_is_refused_at_ingest(lib, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(IngestError, match="empty"):
        ingest_file(empty)


# --- PDF ---------------------------------------------------------------------------------------------------

def test_pdf_text_layer_pages_and_paragraphs(lib):
    d = process(make_pdf(COUNCIL_PDF_PAGES, title="Council approves budget", author="City desk", lang="en-GB"),
                "council.pdf")
    assert d["status"] == "ready", d["failure_reason"]
    segs = paragraphs(d)
    assert [(s["text"], s["meta"]["page"]) for s in segs] == [
        ("The city council approved next year's budget on Monday after a debate that lasted most of the "
         "afternoon.", 1),
        ("Opposition members said the plan (which raises parking fees) was unfair to small shops in the centre.", 1),
        ("The new fees take effect in March.", 2),
    ]
    assert d["title"] == "Council approves budget"
    assert d["language"] == "en-GB"
    assert d["published_at"] is None  # a PDF's creation date is not a publication date
    assert d["meta"]["created"].startswith("2024-05-01T12:00:00")
    assert d["meta"]["pages"] == 2 and d["meta"]["author"] == "City desk"
    assert_offsets(d)


def test_scanned_pdf_without_text_layer(lib, tmp_path):
    from PIL import Image

    scan = tmp_path / "scan.pdf"
    Image.new("RGB", (200, 280), "white").save(scan)
    d = process(scan)
    assert d["status"] == "ready"
    assert paragraphs(d) == []
    assert d["meta"]["note"] == "no text layer (scanned?)"


def test_encrypted_pdf_fails_with_a_reason_and_a_good_file_still_works(lib):
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(make_pdf(COUNCIL_PDF_PAGES))).pages:
        writer.add_page(page)
    writer.encrypt(user_password="s3cret", owner_password="owner", algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    d = process(buf.getvalue(), "locked.pdf")
    assert d["status"] == "failed"
    assert "encrypted" in d["failure_reason"] and "password" in d["failure_reason"]
    assert paragraphs(d) == []
    good = process(SAMPLES / "sample-article.md")
    assert good["status"] == "ready" and paragraphs(good)


def test_corrupt_pdf_fails_with_a_reason(lib):
    d = process(b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\nthis is not a pdf body at all", "broken.pdf")
    assert d["status"] == "failed"
    assert "PDF" in d["failure_reason"] and ("corrupt" in d["failure_reason"] or "truncated" in d["failure_reason"])


@pytest.mark.slow
def test_chinese_pdf_printed_by_chromium(lib, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    need_service(bool(chromium), "chromium (to print a real Chinese PDF)")
    out = tmp_path / "printed.pdf"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                    f"--print-to-pdf={out}", (SAMPLES / "sample-article.html").as_uri()],
                   check=True, capture_output=True, timeout=120)
    d = process(out)
    assert d["status"] == "ready", d["failure_reason"]
    texts = [s["text"] for s in paragraphs(d)]
    # CJK fonts map some hanzi to radical code points (⾸ for 首); they come back as the real characters
    assert "滨江新区首座社区图书馆今日开放" in texts
    assert any(t.startswith("4月23日是世界读书日。滨江新区首座社区图书馆今天上午正式对市民开放") for t in texts)
    assert any("家住附近的退休教师王女士说" in t for t in texts)
    assert d["language"] == "zh-CN"  # Chromium writes the page's lang into the PDF catalog


# --- NINJS -------------------------------------------------------------------------------------------------

def test_ninjs_2_sample(lib):
    d = process(SAMPLES / "sample-ninjs.json")
    assert d["status"] == "ready", d["failure_reason"]
    assert d["mime"] == "application/ninjs+json"
    assert d["title"] == "本市首条无人驾驶公交线路开始试运营"
    assert d["language"] == "zh-CN"
    assert d["published_at"].startswith("2024-03-15T06:20:00")
    assert d["rights"] == "zhimei sample newsroom" and d["licence"] == "CC0 1.0"
    meta = d["meta"]
    assert meta["uri"] == "urn:newsml:zhimei.example:20240315:tech-0042"
    assert meta["version"] == "3" and meta["urgency"] == "3"
    assert meta["author"] == "新闻编辑部 陈静" and meta["located"] == "杭州"
    assert [s["name"] for s in meta["subjects"]] == ["交通", "科技"]
    assert meta["usageterms"] == "CC0 1.0"
    segs = paragraphs(d)
    assert len(segs) == 4 and segs[0]["text"].startswith("本市首条无人驾驶公交线路今天上午开始试运营。")
    assert segs[3]["language"] == "en"
    assert_offsets(d)


def test_ninjs_1x_body_text(lib):
    item = {"uri": "urn:test:ninjs1", "type": "text", "version": "1", "headline": "Bridge reopens after repairs",
            "byline": "Sam Lee", "language": "en", "versioncreated": "2023-11-02T09:00:00Z",
            "subject": [{"name": "infrastructure", "code": "medtop:20000756"}],
            "body_text": "The Old Mill bridge reopened on Thursday.\n\nRepairs took eight months.",
            "copyrightholder": "Test Agency", "usageterms": "Editorial use only"}
    d = process(json.dumps(item).encode(), "bridge.json")
    assert d["status"] == "ready", d["failure_reason"]
    assert d["title"] == "Bridge reopens after repairs"
    assert [s["text"] for s in paragraphs(d)] == ["The Old Mill bridge reopened on Thursday.",
                                                  "Repairs took eight months."]
    assert d["meta"]["author"] == "Sam Lee"
    assert d["meta"]["subjects"] == [{"name": "infrastructure", "code": "medtop:20000756"}]
    assert d["rights"] == "Test Agency" and d["licence"] == "Editorial use only"
    assert d["published_at"].startswith("2023-11-02T09:00:00")


def test_malformed_ninjs_names_line_and_column(lib):
    bad = b'{\n  "uri": "urn:x",\n  "headline": "Broken",\n  "body_text": "unterminated\n}\n'
    d = process(bad, "broken.json")
    assert d["status"] == "failed"
    assert "malformed NINJS JSON: Invalid control character" in d["failure_reason"]
    assert "(line 4, column 29)" in d["failure_reason"]
    assert process(SAMPLES / "sample-ninjs.json")["status"] == "ready"


# --- undecodable text and re-runs -------------------------------------------------------------------------

def test_undecodable_text_fails_with_the_encoding_message(lib):
    d = process(b"\x80\xff\x81\xff\x80 not text \xff\xfe\x80" * 20, "garbage.txt")
    assert d["status"] == "failed"
    assert d["failure_reason"].endswith(UNDECODABLE)
    job = next(j for j in d["jobs"] if j["stage"] == "extract_text")
    assert job["status"] == "failed" and job["attempts"] == 1  # permanent: no pointless retries
    with session_scope() as s:
        assert s.scalars(select(Segment).where(Segment.asset_id == d["id"])).all() == []


def test_rerun_replaces_segments_without_duplicates(lib):
    d = process(SAMPLES / "sample-article.html")
    before = [(s["seq"], s["text"]) for s in paragraphs(d)]
    with session_scope() as s:
        enqueue_pipeline(s, s.get(Asset, d["id"]), restart=True)
    drain()
    with session_scope() as s:
        again = asset_detail(s, d["id"])
    assert [(x["seq"], x["text"]) for x in paragraphs(again)] == before
    assert again["status"] == "ready"


def test_duplicate_ingest_returns_the_existing_asset(lib):
    first = ingest_file(SAMPLES / "sample-article.md")
    second = ingest_file(SAMPLES / "sample-article.md", filename="copy.md")
    assert second.created is False and second.asset_id == first.asset_id


# --- the readers on their own (no database) ---------------------------------------------------------------

def test_decode_text_order_and_refusal():
    assert decode_text("中文".encode("gb18030")) == "中文"
    assert decode_text(b"\xef\xbb\xbfplain") == "plain"
    assert decode_text("新聞".encode("big5"), declared="big5") == "新聞"
    assert decode_text(b"\xfe\xff" + "新闻".encode("utf-16-be")) == "新闻"
    with pytest.raises(ExtractError, match="not valid UTF-8, UTF-16, GB18030 or Big5"):
        decode_text(b"\x80\x80\xff")


def test_split_paragraphs_and_language():
    assert split_paragraphs("a\r\nb\r\n\r\n\r\nc") == ["a b", "c"]
    assert split_paragraphs("第一行\n第二行") == ["第一行第二行"]
    assert detect_language("今天天气很好，我们去公园散步。") == "zh"
    assert detect_language("The weather is fine today.") == "en"
    assert detect_language("東京で新しい駅がオープンしました。") == "ja"
    assert detect_language("12345 — 678") is None


def test_big_markdown_reads_line_by_line_like_the_full_parser(monkeypatch):
    from zhimei.library.text import plain

    data = (SAMPLES / "sample-article.md").read_bytes()
    full = extract(data, "text/markdown")
    monkeypatch.setattr(plain, "FULL_MARKDOWN_CHARS", 10)
    direct = extract(data, "text/markdown")
    assert [(p.text, p.meta) for p in direct.paragraphs] == [(p.text, p.meta) for p in full.paragraphs]
    assert direct.title == full.title


def test_unknown_mime_is_an_extract_error():
    with pytest.raises(ExtractError, match="no text reader"):
        extract(b"x", "image/png")
