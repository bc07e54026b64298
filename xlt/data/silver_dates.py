"""Silver DATE tags for English NER data whose annotation has no DATE type (CoNLL-2003).

Why: MasakhaNER and most newer NER sets tag DATE (dates, days, relative dates, ages and periods,
10-28% of their entities); a model trained on CoNLL-2003 has never seen one, so zero-shot it misses
them all. Rules over English tokens (in the spirit of TIMEX) mark the source's date expressions so
the model learns the type in English and can carry it over. No target-language data is read.

Each token gets a one-letter class, and date spans are regular expressions over the string of
classes: "Monday , August 22 , 1996" is `W,Md,Y`; "three years ago" is `nUA`. Words already inside
another entity are never retagged.
"""
from __future__ import annotations

import re

from xlt.data.examples import LanguageData, TokenExample
from xlt.errors import XltError

WEEKDAYS = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
MONTHS = {"january", "february", "april", "june", "july", "august", "september", "october", "november",
          "december", "jan", "feb", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"}
AMBIGUOUS_MONTHS = {"may", "march", "mar"}  # verbs as often as months: dates only next to a number
RELATIVE_DAYS = {"yesterday", "today", "tomorrow", "tonight"}
QUALIFIERS = {"last", "next", "this", "past", "coming", "previous", "following", "early", "late", "mid"}
UNITS = {"year", "years", "month", "months", "week", "weeks", "day", "days", "decade", "decades", "century"}
PERIODS = {"weekend", "season", "morning", "afternoon", "evening", "night", "spring", "summer", "autumn", "winter"}
AFTER_UNIT = {"ago", "old", "earlier", "later"}
NUMBER_WORDS = {"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
                "fifteen", "twenty", "thirty", "forty", "fifty", "hundred", "several", "few"}

_YEAR = re.compile(r"^(1[89]\d\d|20\d\d)(/\d\d(\d\d)?|s)?$")  # 1996, 1996/97, 1990s
_DAY = re.compile(r"^([12]?\d|3[01])(st|nd|rd|th)?$")  # 22, 22nd
_NUMBER = re.compile(r"^\d+([.,]\d+)?$")
_AGE = re.compile(r"^\d+-(year|month|week|day)s?-old$", re.I)  # 49-year-old

# span patterns over token classes, longest alternatives first (re tries them in order)
_SPAN = re.compile(
    r"W,?(?:d[Mm]|[Mm]d)(?:,?Y)?"   # Monday , August 22 , 1996
    r"|(?:d[Mm]|[Mm]d)(?:,?Y)?"     # 22 August 1996 / August 22
    r"|[Mm]Y"                       # August 1996
    r"|Q[UPWMm]"                    # last week, this season, next Monday, last August
    r"|[dn]UA?"                     # three years ago, 49 years old, 10 days
    r"|[WR]P?"                      # Monday night, yesterday morning
    r"|[MYH]")                      # August, 1996, 49-year-old


def token_class(word: str) -> str:
    w = word.lower().rstrip(".")
    if w in WEEKDAYS:
        return "W"
    if w in MONTHS:
        return "M"
    if w in AMBIGUOUS_MONTHS:
        return "m"
    if w in RELATIVE_DAYS:
        return "R"
    if w in QUALIFIERS:
        return "Q"
    if w in UNITS:
        return "U"
    if w in PERIODS:
        return "P"
    if w in AFTER_UNIT:
        return "A"
    if _YEAR.match(w):
        return "Y"
    if _DAY.match(w):
        return "d"
    if _NUMBER.match(w) or w in NUMBER_WORDS:
        return "n"
    if _AGE.match(w):
        return "H"
    return "," if w == "," else "o"


def date_spans(words: tuple[str, ...] | list[str]) -> list[tuple[int, int]]:
    """(start, end) word spans of English date expressions, end exclusive."""
    classes = "".join(token_class(w) for w in words)
    return [m.span() for m in _SPAN.finditer(classes)]


def add_date_tags(words: tuple[str, ...], tags: tuple[str, ...]) -> tuple[tuple[str, ...], int]:
    """Tags with B-DATE/I-DATE on the date spans whose words are all O; and how many spans were added."""
    out, added = list(tags), 0
    for start, end in date_spans(words):
        if all(t == "O" for t in tags[start:end]):
            out[start:end] = ["B-DATE"] + ["I-DATE"] * (end - start - 1)
            added += 1
    return tuple(out), added


def silver_tags_for(exp, src, loaded: LanguageData) -> list[str]:
    """Apply the config's augment.silver_tags when `src` is its source; the report lines (none otherwise)."""
    return add_silver_dates(loaded) if src is exp.source and exp.augment.silver_tags else []


def add_silver_dates(source: LanguageData) -> list[str]:
    """Tag DATE by the rules above in every split of an English NER source; returns the report lines.

    All splits, so that validation (model selection) and the English test score agree with training.
    """
    if source.language != "eng":
        raise XltError(f"augment.silver_tags: DATE rules are written for English and the source is "
                       f"{source.key()}; remove silver_tags or use an English source")
    if any(t.endswith("-DATE") for rows in source.splits.values() for r in rows for t in r.tags):
        raise XltError(f"augment.silver_tags: {source.key()} already tags DATE; remove silver_tags")
    lines = ["silver DATE tags (augment.silver_tags; English rules, all source splits):"]
    for split, rows in source.splits.items():
        tagged, spans = [], 0
        for r in rows:
            tags, added = add_date_tags(r.tokens, r.tags)
            tagged.append(TokenExample(r.tokens, tags))
            spans += added
        source.splits[split] = tagged
        lines.append(f"  {split}: {spans} DATE spans added in {sum(t != r for t, r in zip(tagged, rows))} "
                     f"of {len(rows)} sentences")
    return lines
