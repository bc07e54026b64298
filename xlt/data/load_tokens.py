"""Token-classification data (NER, POS): CoNLL / CoNLL-U files to TokenExamples of one language.

Text cleaning does not apply (it would break the word-tag alignment). Tag-set mapping is explicit
and reported: `label_map: {MISC: null}` turns B-MISC/I-MISC into O; `{PERSON: PER}` renames a type.
"""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from xlt.data.conll import TagReadReport, read_conll, read_conllu
from xlt.data.examples import LanguageData, TokenExample
from xlt.errors import XltError

TOKEN_FORMATS = {".conllu": "conllu", ".conll": "conll", ".txt": "conll", ".iob": "conll", ".bio": "conll"}


@dataclass
class TokenLoadReport:
    reads: list[TagReadReport] = field(default_factory=list)
    mapped: Counter = field(default_factory=Counter)  # "B-MISC -> O" -> count
    extra: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [line for r in self.reads for line in r.lines()]
        out += [f"  tag mapping {k}: {v} words" for k, v in sorted(self.mapped.items())]
        return out + self.extra


def read_token_file(path: Path, fmt: str | None, tag_column: int | str | None) -> tuple[list[TokenExample], TagReadReport]:
    fmt = fmt or TOKEN_FORMATS.get(path.suffix.lower())
    if fmt == "conllu":
        return read_conllu(path, str(tag_column or "upos"))
    if fmt == "conll":
        return read_conll(path, int(tag_column) if tag_column is not None else -1)
    raise XltError(f"cannot tell the format of {path}; set format: conll or conllu")


def map_tags(tags: tuple[str, ...], label_map: dict[str, str | None], counts: Counter) -> tuple[str, ...]:
    """Map whole tags (B-MISC) or entity types (MISC); None means O."""
    out = []
    for t in tags:
        prefix, typ = (t[:2], t[2:]) if t[:2] in ("B-", "I-") else ("", t)
        if t in label_map:
            new = label_map[t] or "O"
        elif prefix and typ in label_map:
            new = prefix + label_map[typ] if label_map[typ] else "O"
        else:
            new = t
        if new != t:
            counts[f"{t} -> {new}"] += 1
        out.append(new)
    return tuple(out)


def check_label_map(label_map: dict, tags_seen: set[str], where: str) -> None:
    """A key that matches no tag or type (a typo such as MISCX) would silently map nothing: an error instead."""
    known = tags_seen | {t[2:] for t in tags_seen if t[:2] in ("B-", "I-")}
    unused = sorted(k for k in label_map if k not in known)
    if unused:
        raise XltError(f"{where}: label_map key(s) {unused} match no tag in the data (its tags and types: "
                       f"{sorted(known - {'O'})}); fix the spelling or remove them")


def load_token_language(name: str, code: str, paths: dict[str, Path], fmt: str | None, tag_column,
                        label_map: dict | None, train_limit: int | None, seed: int) -> tuple[LanguageData, TokenLoadReport]:
    rep = TokenLoadReport()
    notes: list[str] = []
    splits: dict[str, list[TokenExample]] = {}
    for split, path in paths.items():
        rows, read = read_token_file(Path(path), fmt, tag_column)
        rep.reads.append(read)
        splits[split] = rows
    if label_map:
        check_label_map(label_map, {t for rows in splits.values() for r in rows for t in r.tags}, f"{name}/{code}")
        splits = {s: [TokenExample(r.tokens, map_tags(r.tags, label_map, rep.mapped)) for r in rows]
                  for s, rows in splits.items()}
    if "all" in splits:
        rows = splits.pop("all")
        random.Random(seed).shuffle(rows)
        a, b = int(0.8 * len(rows)), int(0.9 * len(rows))
        splits.update(train=rows[:a], validation=rows[a:b], test=rows[b:])
        notes.append(f"no splits in the data: made a random 80/10/10 split of sentences (seed {seed})")
    if "validation" not in splits and splits.get("train"):
        rows = list(splits["train"])
        random.Random(seed).shuffle(rows)
        cut = max(1, len(rows) // 10)
        splits["validation"], splits["train"] = rows[:cut], rows[cut:]
        notes.append(f"no validation split: {cut} training sentences held out (seed {seed})")
    for s in ("train", "validation"):
        splits.setdefault(s, [])
        if not splits[s]:
            notes.append(f"no {s} split: this language can only be a zero-shot target")
    if not splits.get("test"):
        raise XltError(f"{name}/{code}: no test split; give files: {{test: ...}}")
    if train_limit and len(splits["train"]) > train_limit:
        rows = list(splits["train"])
        random.Random(seed).shuffle(rows)
        notes.append(f"train_limit: {train_limit} of {len(rows)} training sentences used (seeded sample)")
        splits["train"] = rows[:train_limit]
    train = {r.tokens for r in splits["train"]}
    for other in ("validation", "test"):
        shared = sum(r.tokens in train for r in splits[other])
        notes.append(f"train/{other} overlap: {shared} of {len(splits[other])} {other} sentences also in train")
    return LanguageData(name, code, {s: splits[s] for s in ("train", "validation", "test")}, notes), rep
