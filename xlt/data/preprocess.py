"""Text cleaning for social-media data, step by step, with a report of what each step changed.

Steps run in a fixed order (listed in STEPS); each is switched on in the config. Character classes
are Unicode-aware: letters, combining marks and digits of every script survive `remove_non_alnum`
(Devanagari vowel signs are marks, not letters, so `\\w` alone would break Hindi).
"""
from __future__ import annotations

import html
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

from xlt.config import REWRITING_STEPS
from xlt.data.examples import Example
from xlt.errors import XltError

URL_RE = re.compile(r"(?:https?://|www\.)\S+|\bhttps?\s+www\s+\S+", re.IGNORECASE)
EMAIL_RE = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")
HANDLE_RE = re.compile(r"(?<![\w@])@\w{1,30}")
PHONE_RE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)|\d{2,4})[\s.-]?\d{3,4}[\s.-]?\d{3,4}(?!\w)")
HTML_TAG_RE = re.compile(r"<[^>\n]{1,200}>")
ARTIFACT_RE = re.compile(r"^\s*RT\b:?|\[(?:removed|deleted)\]|&(?:amp|lt|gt|quot|#\d+);|\bvia @\w+", re.IGNORECASE)
SPACE_RE = re.compile(r"\s+")


@lru_cache(maxsize=65536)
def _keep_char(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch)[0] in "LMN"


def remove_non_alnum(text: str) -> str:
    return "".join(ch if _keep_char(ch) else " " for ch in text)


# scripts written without spaces between words: Han, kana, Thai, Lao, Khmer, Myanmar
NO_SPACE_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0eff\u1780-\u17ff\u1000-\u109f]")


def count_words(text: str) -> int:
    """Whitespace words; in scripts written without spaces, every two characters count as a word
    (about the mean word length of Chinese and Japanese), so min_words does not drop all of them."""
    n = 0
    for token in text.split():
        dense = len(NO_SPACE_RE.findall(token))
        n += (dense + 1) // 2 if dense else 1
    return n


@lru_cache(maxsize=64)
def stopwords_for(language: str) -> frozenset[str]:
    """Stopwords from the maintained stopwords-iso lists (ISO 639-1 codes; 639-3 mapped)."""
    import stopwordsiso

    code = ISO3_TO_1.get(language, language)
    if not stopwordsiso.has_lang(code):
        raise XltError(f"no stopword list for language {language!r}; turn remove_stopwords off for it")
    return frozenset(stopwordsiso.stopwords(code))


ISO3_TO_1 = {"eng": "en", "ara": "ar", "rus": "ru", "jpn": "ja", "kor": "ko", "ind": "id", "hin": "hi", "tel": "te",
             "swa": "sw", "yor": "yo", "hau": "ha", "amh": "am", "ben": "bn", "fra": "fr", "deu": "de", "spa": "es",
             "por": "pt", "zho": "zh", "tur": "tr", "urd": "ur", "fas": "fa", "tha": "th", "vie": "vi", "jav": "jv",
             "sun": "su", "zul": "zu", "som": "so", "mar": "mr"}


@dataclass
class StepReport:
    step: str
    changed: int = 0
    dropped: int = 0
    examples: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class PreprocessReport:
    rows_in: int
    rows_out: int
    classes_before: dict[str, int]
    classes_after: dict[str, int]
    steps: list[StepReport]

    def lines(self) -> list[str]:
        out = [f"rows: {self.rows_in} -> {self.rows_out}",
               f"classes before: {self.classes_before}", f"classes after:  {self.classes_after}"]
        for s in self.steps:
            out.append(f"  {s.step:<22} changed {s.changed:>6}  dropped {s.dropped:>6}")
            for before, after in s.examples:
                start = max(0, next((i for i, (a, b) in enumerate(zip(before, after)) if a != b),
                                    min(len(before), len(after))) - 30)  # show where the step changed the text
                dots = "..." if start else ""
                out.append(f"      {dots}{before[start:start + 70]!r}\n   -> {dots}{after[start:start + 70]!r}")
        return out


def _text_steps(cfg, language: str):
    """(name, function) for each switched-on step that rewrites text, in order."""
    steps = []
    if cfg.scrub_pii:
        steps.append(("scrub_pii", lambda t: HANDLE_RE.sub("@user", PHONE_RE.sub("[PHONE]", EMAIL_RE.sub("[EMAIL]", URL_RE.sub("[URL]", t))))))
    if cfg.remove_html:
        steps.append(("remove_html", lambda t: html.unescape(HTML_TAG_RE.sub(" ", t))))
    if cfg.remove_platform_artifacts:
        steps.append(("remove_platform_artifacts", lambda t: ARTIFACT_RE.sub(" ", t)))
    if cfg.remove_urls:
        steps.append(("remove_urls", lambda t: URL_RE.sub(" ", t)))
    if cfg.remove_emails:
        steps.append(("remove_emails", lambda t: EMAIL_RE.sub(" ", t)))
    if cfg.remove_handles:
        steps.append(("remove_handles", lambda t: HANDLE_RE.sub(" ", t)))
    if cfg.lowercase:
        steps.append(("lowercase", str.lower))
    if cfg.remove_non_alnum:
        steps.append(("remove_non_alnum", remove_non_alnum))
    if cfg.remove_stopwords:
        sw = stopwords_for(language)
        steps.append(("remove_stopwords", lambda t: " ".join(w for w in t.split() if w.lower() not in sw)))
    steps.append(("normalize_whitespace", lambda t: SPACE_RE.sub(" ", t).strip()))
    return steps


def preprocess(rows: list[Example], cfg, language: str, n_examples: int = 3) -> tuple[list[Example], PreprocessReport, list[int]]:
    """Apply the configured steps; returns cleaned rows, a per-step report, and the input index of each kept row."""
    before = Counter(r.label for r in rows)
    original = rows
    index = list(range(len(rows)))
    reports = []
    for name, fn in _text_steps(cfg, language):
        rep = StepReport(name)
        new = []
        for r in rows:
            t = fn(r.text)
            p = fn(r.text_pair) if r.text_pair is not None else None
            if t != r.text or p != r.text_pair:
                rep.changed += 1
                if len(rep.examples) < n_examples:
                    rep.examples.append((r.text, t))
                r = Example(t, r.label, p)
            new.append(r)
        rows = new
        reports.append(rep)
    rows, index = _filter(rows, index, reports, "drop_empty", lambda r, i: bool(r.text.strip()))
    if cfg.min_words:  # words of the post as written: stopword removal must not decide which posts are "short"
        rows, index = _filter(rows, index, reports, f"min_words({cfg.min_words})",
                              lambda r, i: count_words(original[i].text) >= cfg.min_words)
    if cfg.dedupe:
        seen: set[tuple[str, str | None]] = set()

        def first(r: Example, _i: int) -> bool:
            key = (r.text, r.text_pair)
            if key in seen:
                return False
            seen.add(key)
            return True

        rows, index = _filter(rows, index, reports, "dedupe", first)
    if not cfg.rewrite_text:  # ablation arm: the rows the cleaning keeps, with their original text
        light = _text_steps(cfg.model_copy(update={s: False for s in REWRITING_STEPS}), language)
        rows = [_apply(original[i], light) for i in index]
    return rows, PreprocessReport(sum(before.values()), len(rows), dict(sorted(before.items())),
                                  dict(sorted(Counter(r.label for r in rows).items())), reports), index


def _apply(row: Example, steps) -> Example:
    text, pair = row.text, row.text_pair
    for _name, fn in steps:
        text, pair = fn(text), (fn(pair) if pair is not None else None)
    return Example(text, row.label, pair)


def _filter(rows, index, reports, name, keep) -> tuple[list[Example], list[int]]:
    rep = StepReport(name)
    out, out_index = [], []
    for r, i in zip(rows, index):
        if keep(r, i):
            out.append(r)
            out_index.append(i)
        else:
            rep.dropped += 1
            if len(rep.examples) < 3:
                rep.examples.append((r.text, "<dropped>"))
    reports.append(rep)
    return out, out_index
