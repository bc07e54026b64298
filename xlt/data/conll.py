"""Readers for token-classification files: CoNLL (one token per line, a tag column) and CoNLL-U.

What the readers repair or skip is counted in a `TagReadReport`, never done silently:
BOMs, `-DOCSTART-` lines, empty tokens, IOB1 files (converted to IOB2), and `I-X` tags that do not
continue an X entity (turned into `B-X`, the reading conlleval and the MasakhaNER authors use).
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from xlt.data.examples import TokenExample
from xlt.errors import XltError
from xlt.files import missing_file, read_utf8


@dataclass
class TagReadReport:
    """What reading a token file found; `lines()` goes into the data report."""

    path: str
    sentences: int = 0
    tokens: int = 0
    docstart: int = 0
    bom: bool = False
    empty_tokens: int = 0
    multiword_ranges: int = 0
    empty_nodes: int = 0
    scheme: str = ""  # "IOB2", "IOB1 (converted to IOB2)" or "" (not an entity tag set)
    repaired: int = 0  # I-X not continuing X, turned into B-X
    repaired_examples: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"{self.path}: {self.sentences} sentences, {self.tokens} tokens"]
        if self.bom:
            out.append("  byte-order mark at the start: stripped")
        if self.docstart:
            out.append(f"  {self.docstart} -DOCSTART- lines: skipped (document boundaries)")
        if self.empty_tokens:
            out.append(f"  {self.empty_tokens} empty tokens (a line with a tag and no word): dropped")
        if self.multiword_ranges or self.empty_nodes:
            out.append(f"  {self.multiword_ranges} multiword-token ranges and {self.empty_nodes} empty nodes: "
                       "skipped (tags are on syntactic words)")
        if self.scheme:
            out.append(f"  tag scheme: {self.scheme}")
        if self.repaired:
            out.append(f"  {self.repaired} I- tags not continuing an entity of their type, turned into B- "
                       f"(e.g. {'; '.join(self.repaired_examples[:3])})")
        return out


def read_conll(path: str | Path, tag_column: int = -1,
               entity_tags: bool | None = None) -> tuple[list[TokenExample], TagReadReport]:
    """CoNLL: `token ... tag` per line (space or tab separated), blank line between sentences. Every token line
    has the columns of the file's first one; with `entity_tags` every tag is O, B-X or I-X."""
    path = Path(path)
    text = _read_text(path)
    rep = TagReadReport(str(path), bom=text.startswith("\ufeff"))
    columns: list[int] = []  # the first token line's column count

    def word(lineno: int, line: str) -> tuple[str, str] | None:
        parts = line.split()
        if parts[0] == "-DOCSTART-":
            rep.docstart += 1
            return None
        if len(parts) == 1:
            if line[:1] in (" ", "\t"):  # a tag with an empty token (MasakhaNER 2.0 xho has two)
                rep.empty_tokens += 1
                return None
            raise XltError(f"{path}:{lineno}: one column ({line.strip()!r}); CoNLL lines need a token and a tag")
        columns[:] = columns or [len(parts)]
        if len(parts) != columns[0]:
            raise XltError(f"{path}:{lineno}: {len(parts)} columns where the file's first token line has "
                           f"{columns[0]} ({line.strip()[:60]!r}); a token may not contain a space")
        try:
            tag = parts[tag_column]
        except IndexError:
            raise XltError(f"{path}:{lineno}: no column {tag_column} for the tag ({len(parts)} columns); "
                           "set tag_column in the data source") from None
        if entity_tags and not IOB_TAG.fullmatch(tag):
            raise XltError(f"{path}:{lineno}: tag {tag!r} is not an IOB entity tag (O, B-TYPE or I-TYPE); fix it, "
                           "or choose the tag column with tag_column")
        return parts[0], tag

    return _finish(path, _sentences(text, word), rep, entity_tags)


UD_COLUMNS = {"upos": 3, "xpos": 4}
UPOS = {"ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT", "SCONJ",
        "SYM", "VERB", "X"}
IOB_TAG = re.compile(r"O|[BI]-\S+")
UD_ID = re.compile(r"(\d+)(?:-(\d+)|\.(\d+))?")


def read_conllu(path: str | Path, column: str = "upos") -> tuple[list[TokenExample], TagReadReport]:
    """CoNLL-U: one syntactic word per integer ID; multiword ranges (1-2) and empty nodes (8.1) skipped."""
    path = Path(path)
    text = _read_text(path)
    rep = TagReadReport(str(path), bom=text.startswith("\ufeff"))
    col = UD_COLUMNS.get(column)
    if col is None:
        raise XltError(f"CoNLL-U tag column must be one of {sorted(UD_COLUMNS)}, not {column!r}")

    last = [0]  # the sentence's last integer word ID

    def word(lineno: int, line: str) -> tuple[str, str] | None:
        if line.startswith("#"):
            return None
        parts = line.split("\t")
        if len(parts) != 10:
            raise XltError(f"{path}:{lineno}: {len(parts)} tab-separated columns; CoNLL-U lines have 10")
        m = UD_ID.fullmatch(parts[0])
        if m is None or (m.group(2) and int(m.group(2)) <= int(m.group(1))):
            raise XltError(f"{path}:{lineno}: ID {parts[0]!r} is not a word ID (1), a multiword range (1-2) or "
                           "an empty node (1.1)")
        if m.group(2):
            rep.multiword_ranges += 1
            return None
        if m.group(3):
            rep.empty_nodes += 1
            return None
        if int(m.group(1)) != last[0] + 1:
            raise XltError(f"{path}:{lineno}: word ID {parts[0]} follows {last[0]}; IDs count 1, 2, 3 ... in each "
                           "sentence (is a blank line missing between two sentences?)")
        last[0] = int(m.group(1))
        if column == "upos" and parts[col] not in UPOS:
            raise XltError(f"{path}:{lineno}: UPOS tag {parts[col]!r} is not one of the 17 Universal Dependencies "
                           f"tags ({', '.join(sorted(UPOS))})")
        return parts[1], parts[col]

    return _finish(path, _sentences(text, word, lambda: last.__setitem__(0, 0)), rep, entity_tags=False)


def _sentences(text: str, word, new_sentence=lambda: None) -> list[tuple[list[str], list[str], int]]:
    """Blank-line separated sentences as (tokens, tags, first line); `word(lineno, line)` parses a
    line into (token, tag) or None to skip it; `new_sentence()` is called at each blank line."""
    sentences, tokens, tags, start = [], [], [], 0
    for lineno, line in enumerate(text.lstrip("\ufeff").splitlines(), 1):
        if not line.strip():
            if tokens:
                sentences.append((tokens, tags, start))
            tokens, tags = [], []
            new_sentence()
            continue
        parsed = word(lineno, line)
        if parsed is None:
            continue
        start = lineno if not tokens else start
        tokens.append(parsed[0])
        tags.append(parsed[1])
    if tokens:
        sentences.append((tokens, tags, start))
    return sentences


def _read_text(path: Path) -> str:
    from xlt.data.readers import refuse_nul

    if not path.exists():
        raise missing_file(path)
    if path.is_dir():
        raise XltError(f"{path} is a directory; give the data file inside it")
    if path.stat().st_size == 0:
        raise XltError(f"data file is empty: {path}")
    text = read_utf8(path, keep_bom=True)
    refuse_nul(text, path)
    return text


def _finish(path: Path, sentences: list, rep: TagReadReport, entity_tags: bool | None = None) -> tuple[list[TokenExample], TagReadReport]:
    if not sentences:
        raise XltError(f"{path}: no sentences found; expected one token per line and blank lines between sentences")
    all_tags = Counter(t for _, tags, _ in sentences for t in tags)
    if entity_tags is None:
        entity_tags = all(t == "O" or t[:2] in ("B-", "I-") for t in all_tags)
    out = []
    chunk_starts = b_count = 0
    for tokens, tags, lineno in sentences:
        if entity_tags:
            tags, starts, examples = to_iob2(tags)
            chunk_starts += starts
            rep.repaired_examples += [f"line {lineno + i}: {tokens[i]} {t}" for i, t in examples]
            b_count += sum(t.startswith("B-") for t in tags)
        out.append(TokenExample(tuple(tokens), tuple(tags)))
    rep.sentences, rep.tokens = len(out), sum(len(e.tokens) for e in out)
    if entity_tags:
        # IOB1 starts most entities with I-; IOB2 with B- (a few stray I- are annotation slips)
        iob1 = chunk_starts > 0.5 * max(b_count, 1)
        rep.scheme = "IOB1 (converted to IOB2)" if iob1 else "IOB2"
        rep.repaired = 0 if iob1 else chunk_starts
        if iob1:
            rep.repaired_examples = []
    return out, rep


def to_iob2(tags: list[str]) -> tuple[list[str], int, list[tuple[int, str]]]:
    """IOB2 tags: an I-X that does not continue an X entity becomes B-X. Returns the new tags,
    how many were changed, and (position, original tag) of each change."""
    out, changed = [], []
    prev = "O"
    for i, t in enumerate(tags):
        if t.startswith("I-") and (prev == "O" or prev[2:] != t[2:]):
            changed.append((i, t))
            t = "B-" + t[2:]
        out.append(t)
        prev = t
    return out, len(changed), changed
