"""Understanding speed (and a little accuracy), each against a plain baseline measured in the same run:

- OCR: seconds per image — the product path (oriented, downscaled working copy, then the OCR backend, then
  caption tracking) against the bare RapidOCR call on the original file; and how much of the rendered text
  comes back (character similarity) for generated zh+en news cards.
- embeddings: texts per second — the embed stage's batches against one call per text.
- faces: faces detected and described per second, and faces clustered into people per second — the
  product's centroid index against comparing each new face with every earlier face; how many people the
  astronaut's variants form (1 is right).
- topics: top-1 accuracy of the topic mapping on THUCNews titles (mapped to the newsroom vocabulary),
  keywords only against keywords + embeddings.

    .venv/bin/python bench/understand.py [--data DIR_OF_IMAGES] [--texts FILE] [--cards N] [--topics N]

--data: a folder of .jpg/.png images (a same-named .txt beside an image holds its expected text);
--texts: a text file, one text per line (a TAB and a THUCNews class id may follow). Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import difflib
import importlib.util
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zhimei.library.understand.embed import embed_texts  # noqa: E402
from zhimei.library.understand.ocr import CaptionTracker, normalise_caption  # noqa: E402
from zhimei.library.understand.tags import DEFAULT_TOPICS, score_topics, topic_vectors  # noqa: E402
from zhimei.models import get_backend  # noqa: E402

THUCNEWS = (ROOT.parent / "shared" / "eval-dev" / "topics" / "THUCNews_dev.txt").resolve()
THUC_TO_TOPIC = {0: "财经", 1: "财经", 2: "财经", 3: "教育", 4: "科技", 5: "社会", 6: "时政", 7: "体育", 8: "文化",
                 9: "文化"}
FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
CAPTIONS = [
    ("市政府批准新建跨江大桥", "City approves new river bridge"), ("台风明日登陆 沿海停航", "Typhoon to make landfall"),
    ("国家队三比一获胜", "National team wins 3-1"), ("央行下调利率", "Central bank cuts rates"),
    ("新学期 学校开学", "Schools reopen for the new term"), ("博物馆新展开幕", "Museum opens new exhibition"),
    ("医院扩建完成", "Hospital extension completed"), ("科技峰会在深圳举行", "Tech summit held in Shenzhen"),
]


def _skimage(name: str) -> Path | None:
    spec = importlib.util.find_spec("skimage")
    if spec is None:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data" / name


def _cards(n: int, out: Path) -> list[tuple[Path, str]]:
    """Generated 1280x720 news cards: a background pattern, a zh headline and an en strap line."""
    rng = random.Random(7)
    zh_font, en_font = ImageFont.truetype(str(FONT), 64), ImageFont.truetype(str(FONT), 44)
    items = []
    for i in range(n):
        zh, en = CAPTIONS[i % len(CAPTIONS)]
        img = Image.new("RGB", (1280, 720), tuple(rng.randint(0, 120) for _ in range(3)))
        d = ImageDraw.Draw(img)
        for _ in range(12):
            x, y = rng.randint(0, 1200), rng.randint(0, 420)
            d.ellipse((x, y, x + rng.randint(40, 200), y + rng.randint(40, 200)),
                      fill=tuple(rng.randint(60, 255) for _ in range(3)))
        d.rectangle((0, 480, 1280, 680), fill=(180, 20, 40))
        d.text((50, 495), zh, font=zh_font, fill=(255, 255, 255))
        d.text((50, 590), en, font=en_font, fill=(255, 255, 230))
        p = out / f"card-{i:03d}.jpg"
        img.save(p, quality=88)
        items.append((p, zh + en))
    return items


def _recovered(expected: str, got: str) -> float:
    a, b = normalise_caption(expected), normalise_caption(got)
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() if a else 1.0


def bench_ocr(images: list[tuple[Path, str | None]], work: Path) -> dict:
    """Product path vs bare RapidOCR on the original file."""
    from rapidocr import RapidOCR

    from zhimei.library.media.images import decode_oriented, inspect_image

    ocr = get_backend("ocr")
    bare = RapidOCR(params={"Global.log_level": "error"})
    ocr.read(images[0][0])  # load once, outside the timing
    bare(str(images[0][0]))
    t_prod = t_bare = 0.0
    scores = []
    for i, (p, expected) in enumerate(images):
        t = time.perf_counter()
        img, _ = inspect_image(p, max_pixels=200_000_000, max_frames=1)
        rgb = decode_oriented(img, max_side=2048)
        rgb.thumbnail((2048, 2048))
        wp = work / f"w{i}.png"
        rgb.save(wp, compress_level=1)
        tracker = CaptionTracker()
        tracker.add_frame(ocr.read(wp), shot_seq=None, start=None, end=None)
        t_prod += time.perf_counter() - t
        t = time.perf_counter()
        bare(str(p))
        t_bare += time.perf_counter() - t
        if expected:
            scores.append(_recovered(expected, "".join(c.text for c in tracker.captions)))
    n = len(images)
    return {"images": n, "product_s_per_image": round(t_prod / n, 3), "baseline_s_per_image": round(t_bare / n, 3),
            "text_recovered": round(float(np.mean(scores)), 4) if scores else None}


def bench_embed(texts: list[str]) -> dict:
    emb = get_backend("embedder")
    emb.embed_passages(texts[:2])
    t = time.perf_counter()
    vecs = embed_texts(emb, texts)
    t_prod = time.perf_counter() - t
    t = time.perf_counter()
    for s in texts:
        emb.embed_passages([s])
    t_one = time.perf_counter() - t
    assert vecs.shape[0] == len(texts)
    return {"texts": len(texts), "product_texts_per_s": round(len(texts) / t_prod, 1),
            "baseline_texts_per_s": round(len(texts) / t_one, 1), "dim": int(vecs.shape[1])}


def _face_images(work: Path, extra: list[Path]) -> tuple[list[Path], int]:
    """Astronaut variants (one person) plus LFW faces (upscaled) plus `extra`; returns (images, variants)."""
    out = []
    astro = _skimage("astronaut.png")
    if astro is not None and astro.exists():
        src = Image.open(astro).convert("RGB")
        variants = [src, ImageOps.mirror(src), src.resize((384, 384)), src.crop((60, 0, 460, 400)),
                    src.point(lambda v: min(255, int(v * 1.2)))]
        for i, im in enumerate(variants):
            p = work / f"astro-{i}.jpg"
            im.save(p, quality=85)
            out.append(p)
    n_var = len(out)
    lfw = _skimage("lfw_subset.npy")
    if lfw is not None and lfw.exists():
        data = np.load(lfw)
        for i in range(40):
            p = work / f"lfw-{i}.png"
            Image.fromarray((data[i] * 255).astype("uint8")).resize((200, 200), Image.Resampling.BICUBIC) \
                .convert("RGB").save(p)
            out.append(p)
    return out + extra, n_var


def bench_faces(images: list[Path], n_variants: int) -> dict:
    faces = get_backend("faces")
    faces.detect(images[0])
    t = time.perf_counter()
    found = [(i, f) for i, p in enumerate(images) for f in faces.detect(p)]
    t_detect = time.perf_counter() - t
    descs = [np.asarray(f.embedding, dtype=np.float32) for _, f in found if f.embedding]
    # product: centroid index (PersonIndex's arithmetic, in memory); baseline: every earlier face
    reps = max(1, 2000 // max(1, len(descs)))  # enough faces to time
    stream = [d + np.float32(0) for _ in range(reps) for d in descs]
    t = time.perf_counter()
    mat = np.zeros((0, descs[0].size), dtype=np.float32) if descs else None
    counts: list[int] = []
    assigned = []
    for v in stream:
        if len(counts):
            dist = np.linalg.norm(mat - v[None, :], axis=1)
            j = int(np.argmin(dist))
            if dist[j] <= faces.match_distance:
                mat[j] = (mat[j] * counts[j] + v) / (counts[j] + 1)
                counts[j] += 1
                assigned.append(j)
                continue
        mat = np.vstack([mat, v[None, :]])
        counts.append(1)
        assigned.append(len(counts) - 1)
    t_prod = time.perf_counter() - t
    t = time.perf_counter()
    seen: list[np.ndarray] = []
    for v in stream:
        if seen:
            float(np.min(np.linalg.norm(np.vstack(seen) - v[None, :], axis=1)))
        seen.append(v)
    t_base = time.perf_counter() - t
    variant_people = len({assigned[k] for k, (i, _) in enumerate(found) if i < n_variants})
    return {"images": len(images), "faces": len(found), "faces_per_s": round(len(found) / t_detect, 2),
            "s_per_image": round(t_detect / len(images), 3), "clustered": len(stream),
            "product_clustered_per_s": round(len(stream) / t_prod, 1),
            "baseline_pairwise_per_s": round(len(stream) / t_base, 1), "people": len(counts) if descs else 0,
            "astronaut_variants": n_variants, "astronaut_people": variant_people}


def bench_topics(rows: list[tuple[str, int]]) -> dict:
    emb = get_backend("embedder")
    topics = [dict(t) for t in DEFAULT_TOPICS]
    tvecs = topic_vectors(emb, topics)
    vecs = embed_texts(emb, [r[0] for r in rows])
    kw_ok = both_ok = 0
    for (title, c), v in zip(rows, vecs, strict=True):
        gold = THUC_TO_TOPIC[c]
        kw_ok += score_topics(topics, title)[0].name == gold
        both_ok += score_topics(topics, title, "", v, tvecs)[0].name == gold
    return {"titles": len(rows), "baseline_keywords_top1": round(kw_ok / len(rows), 4),
            "product_top1": round(both_ok / len(rows), 4)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, help="folder of images (.txt beside an image: its expected text)")
    ap.add_argument("--texts", type=Path, help="text file, one text per line (TAB class id optional)")
    ap.add_argument("--cards", type=int, default=12, help="generated news cards for OCR")
    ap.add_argument("--topics", type=int, default=300, help="THUCNews titles for topic accuracy (0: skip)")
    args = ap.parse_args(argv)
    figures: dict = {}
    with tempfile.TemporaryDirectory(prefix="zhimei-bench-understand-") as tmp:
        work = Path(tmp)
        extra = sorted(p for p in (args.data.iterdir() if args.data else []) if p.suffix.lower() in
                       (".jpg", ".jpeg", ".png"))
        images: list[tuple[Path, str | None]] = [(p, p.with_suffix(".txt").read_text(encoding="utf-8")
                                                  if p.with_suffix(".txt").exists() else None) for p in extra]
        if not images:
            images = _cards(args.cards, work)
        figures["ocr"] = bench_ocr(images, work)
        print("ocr", json.dumps(figures["ocr"]), flush=True)

        lines: list[tuple[str, int | None]] = []
        source = args.texts or (THUCNEWS if THUCNEWS.exists() else None)
        if source:
            for ln in source.read_text(encoding="utf-8").splitlines():
                text, _, cls = ln.partition("\t")
                if text.strip():
                    lines.append((text.strip(), int(cls) if cls.strip().isdigit() else None))
        texts = [t for t, _ in lines[:256]] or [f"{zh}。{en}." for zh, en in CAPTIONS] * 16
        figures["embed"] = bench_embed(texts)
        print("embed", json.dumps(figures["embed"]), flush=True)

        face_imgs, n_var = _face_images(work, extra)
        if face_imgs:
            figures["faces"] = bench_faces(face_imgs, n_var)
            print("faces", json.dumps(figures["faces"]), flush=True)

        labelled = [(t, c) for t, c in lines if c in THUC_TO_TOPIC]
        if args.topics and labelled:
            random.Random(1).shuffle(labelled)
            figures["topics"] = bench_topics(labelled[:args.topics])
            print("topics", json.dumps(figures["topics"]), flush=True)
    print(json.dumps(figures, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
