"""From a DataSource in the config to cleaned, split examples of one language: the one path all data takes,
text and token data alike.

    read -> map labels -> preprocess -> split -> limit -> check overlap

- read: a named benchmark (the registry fills in files and columns), a Hugging Face hub id, or your own
  files: CSV/TSV/JSONL/XLSX for texts, CoNLL/CoNLL-U for tagged words.
- map labels: `label_map` renames labels (or, for tags, entity types); a label it does not list is an
  error, a label mapped to null is dropped on purpose, a key that matches nothing is an error.
- preprocess: the text-cleaning steps (texts only: cleaning words would break the word-tag alignment).
- split: one policy for every task. A split the data lacks is made with the experiment's `split_ratios`
  (a source's own `split_ratios` first), stratified by label (sentences: at random), seeded by
  `split_seed`; a missing validation split is held out of train in the same proportions.
  A target may have a test split alone: it can then be a zero-shot target only.
- limit: `train_limit` keeps a seeded sample of the training split, stratified by label, nested in N.
- overlap: texts shared between train and validation/test are counted in the notes.
"""
from __future__ import annotations

import json
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

from xlt.data import registry
from xlt.data.conll import read_conll, read_conllu
from xlt.data.examples import Example, LanguageData, TokenExample
from xlt.data.preprocess import preprocess
from xlt.data.readers import read_records, records_to_examples
from xlt.data.splits import stratified_order, stratified_split
from xlt.errors import XltError
from xlt.files import read_utf8

SPLITS = ("train", "validation", "test")
TOKEN_FORMATS = {".conllu": "conllu", ".conll": "conll", ".txt": "conll", ".iob": "conll", ".bio": "conll"}


def load_language(src, pre_cfg, data_dir: str | None = None, split_ratios: dict[str, float] | None = None,
                  split_seed: int = 0, entity_tags: bool | None = None, known_labels: list[str] | None = None,
                  kind: str | None = None) -> tuple[LanguageData, list[str]]:
    """Read, map, clean, split, limit and check one DataSource; returns the language and the lines of its
    data report (what each step read, changed or dropped). `split_ratios` defaults to the config's default;
    `entity_tags` makes every CoNLL tag an IOB entity tag; `known_labels` (the source's) are the only labels
    a target's texts may have, checked before anything is split; `kind` ("text" or "tokens") is the data the
    task reads, checked right after reading."""
    from xlt.config import DEFAULT_SPLIT_RATIOS

    split_ratios = split_ratios or DEFAULT_SPLIT_RATIOS
    name = src.display_name()
    code, raw, report, ratios, names = _read_once(src, data_dir, entity_tags)
    notes: list[str] = []
    where = f"{name}/{code}"
    found = "tokens" if any(isinstance(r, TokenExample) for rs, _ in raw.values() for r in rs[:1]) else "text"
    if kind is not None and found != kind:
        raise XltError(f"{where} is {'token-tagged (CoNLL)' if found == 'tokens' else 'text-classification'} data "
                       f"but the config's task reads {'tagged words' if kind == 'tokens' else 'labelled texts'}; "
                       "set task: to one that reads it (classification for texts; ner or pos for tagged words)")
    rows = {split: map_labels(r, src.label_map if src.label_map is not None else _default_map(src), names, path,
                               report) for split, (r, path) in raw.items()}
    if known_labels is not None:
        _check_known(rows, known_labels, where)
    if any(isinstance(r, Example) for rs in rows.values() for r in rs[:1]):
        rows = _clean(rows, pre_cfg, code, report)
    for s, rs in rows.items():
        if not rs:
            part = "data" if s == "all" else f"{s} split"
            raise XltError(f"{where}: the {part} is empty after preprocessing; relax preprocess (min_words?)")
    made = _make_splits(rows, src.split_ratios or ratios or split_ratios, split_seed, notes)
    if not rows.get("test"):
        raise XltError(f"{where}: no test split; give files: {{test: ...}} (a target may have a test split alone)")
    for s in ("train", "validation"):
        rows.setdefault(s, [])
        if not rows[s]:
            notes.append(f"no {s} split: this language can be a zero-shot target only"
                         if s == "train" else "no validation split: model selection on it is impossible")
    if src.train_limit and len(rows["train"]) > src.train_limit:
        unit = "sentences" if isinstance(rows["train"][0], TokenExample) else "texts"
        notes.append(f"train_limit: {src.train_limit} of {len(rows['train'])} training {unit} used "
                     f"(seeded sample{', stratified by label' if unit == 'texts' else ''})")
        rows["train"] = stratified_order(rows["train"], split_seed)[:src.train_limit]
    _check_overlap(rows, notes)
    data = LanguageData(name, code, {s: rows[s] for s in SPLITS}, notes, made_splits=made)
    if src.unlabelled:
        data.unlabelled = _unlabelled_file(Path(src.unlabelled))
    return data, report


def _check_known(rows: dict[str, list], known: list[str], where: str) -> None:
    """A target text label the source does not have cannot be predicted by a transferred model (often a typo)."""
    counts = Counter(r.label for rs in rows.values() for r in rs if isinstance(r, Example) and r.label not in known)
    if counts:
        found = ", ".join(f"{lab!r} ({n} rows)" for lab, n in sorted(counts.items()))
        raise XltError(f"{where}: label(s) {found} are not among the source's labels {known}; fix them, or map "
                       f"them with label_map in this data source, e.g. label_map: {{{next(iter(sorted(counts)))}: "
                       f"{known[0]}}} (null drops the rows)")


_READS: dict | None = None  # inside remembering_reads: what each source's files gave


@contextmanager
def remembering_reads():
    """Within this block a data source's files are read once (a study's groups read the same languages)."""
    global _READS
    if _READS is not None:  # already inside one
        yield
        return
    _READS = {}
    try:
        yield
    finally:
        _READS = None


def _read_once(src, data_dir, entity_tags: bool | None = None):
    """`_read`, remembered inside `remembering_reads`; each caller gets its own lists to change."""
    if _READS is None:
        return _read(src, data_dir, entity_tags)
    key = json.dumps([src.model_dump(mode="json", exclude={"train_limit", "label_map", "name", "split_ratios"}),
                      str(data_dir), entity_tags], sort_keys=True)
    if key not in _READS:
        _READS[key] = _read(src, data_dir, entity_tags)
    code, raw, report, ratios, names = _READS[key]
    return code, {s: (list(rows), where) for s, (rows, where) in raw.items()}, list(report), ratios, names


def _read(src, data_dir, entity_tags: bool | None = None):
    """(language code, {split: (rows, where)}, report lines, the dataset's own split ratios, label names)."""
    code, report, ratios, names = src.language, [], None, {}
    text, label, pair = src.text, src.label, src.text_pair
    if src.dataset:  # a named benchmark: the registry fills in what the config leaves out
        spec = registry.get_spec(src.dataset)
        code = registry.language_code(spec, src.language or next(iter(spec.languages)))
        paths = registry.locate(spec, code, registry.data_dir(data_dir))
        fmt = src.format or spec.format
        if fmt in ("conll", "conllu"):
            return code, _read_tokens(paths, fmt, src.tag_column, report, entity_tags), report, ratios, names
        text, label, pair = text or spec.text, label or spec.label, pair or spec.text_pair
        names, ratios = spec.label_names, spec.split_ratios
        records = {split: (read_records(p, src.format), p) for split, p in paths.items()}
    elif src.hf:
        records = {split: (recs, f"{src.hf}[{split}]") for split, recs in _hub_records(src.hf, src.hf_config).items()}
    else:
        paths = {"all": Path(src.path)} if src.path else {k: Path(v) for k, v in src.files.items()}
        bad = set(paths) - set(SPLITS) - {"all"}
        if bad:
            raise XltError(f"files: unknown split names {sorted(bad)}; use train, validation and test")
        if src.format in ("conll", "conllu") or any(Path(p).suffix == ".conllu" for p in paths.values()):
            return code, _read_tokens(paths, src.format, src.tag_column, report, entity_tags), report, ratios, names
        records = {split: (read_records(p, src.format), p) for split, p in paths.items()}
    rows = {split: (records_to_examples(recs, where, text, label, pair), where) for split, (recs, where) in records.items()}
    return code, rows, report, ratios, names


def _read_tokens(paths: dict[str, Path], fmt: str | None, tag_column, report: list[str],
                 entity_tags: bool | None = None) -> dict:
    out = {}
    for split, path in paths.items():
        path = Path(path)
        kind = fmt or TOKEN_FORMATS.get(path.suffix.lower())
        if kind == "conllu":
            rows, read = read_conllu(path, str(tag_column or "upos"))
        elif kind == "conll":
            rows, read = read_conll(path, int(tag_column) if tag_column is not None else -1, entity_tags)
        else:
            raise XltError(f"cannot tell the format of {path}; set format: conll or conllu")
        report += read.lines()
        out[split] = (rows, path)
    return out


def _default_map(src) -> dict | None:
    return registry.get_spec(src.dataset).label_map if src.dataset else None


def map_labels(rows: list, label_map: dict | None, names: dict[str, str], where, report: list[str]) -> list:
    """Labels through `label_map` (and a named dataset's readable label names)."""
    if rows and isinstance(rows[0], TokenExample):
        return _map_tags(rows, label_map or {}, where, report)
    if label_map is not None:
        unknown = Counter(r.label for r in rows if r.label not in label_map)
        if unknown:
            shown = [u if len(u) <= 40 else u[:37] + "..." for u in sorted(unknown)[:10]]
            raise XltError(f"{where}: labels {shown} ({sum(unknown.values())} rows) are not in label_map "
                           f"{sorted(label_map)}; add them to label_map (map to null in the config to drop them on purpose)")
        rows = [Example(r.text, label_map[r.label], r.text_pair) for r in rows if label_map[r.label] is not None]
        if not rows:
            raise XltError(f"{where}: label_map maps every row to null; nothing is left to train or test on")
    return [Example(r.text, names.get(r.label, r.label), r.text_pair) for r in rows] if names else rows


def _map_tags(rows: list[TokenExample], label_map: dict, where, report: list[str]) -> list[TokenExample]:
    """Whole tags (B-MISC) or entity types (MISC); null means O. A key matching no tag (a typo such as
    MISCX) would silently map nothing: an error instead."""
    if not label_map:
        return rows
    check_label_map(label_map, {t for r in rows for t in r.tags}, str(where))
    counts: Counter = Counter()
    out = [TokenExample(r.tokens, map_tags(r.tags, label_map, counts)) for r in rows]
    report += [f"  tag mapping {k}: {v} words" for k, v in sorted(counts.items())]
    return out


def map_tags(tags: tuple[str, ...], label_map: dict[str, str | None], counts: Counter) -> tuple[str, ...]:
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
    known = tags_seen | {t[2:] for t in tags_seen if t[:2] in ("B-", "I-")}
    unused = sorted(k for k in label_map if k not in known)
    if unused:
        raise XltError(f"{where}: label_map key(s) {unused} match no tag in the data (its tags and types: "
                       f"{sorted(known - {'O'})}); fix the spelling or remove them")


def _clean(rows: dict[str, list[Example]], pre_cfg, code: str, report: list[str]) -> dict[str, list[Example]]:
    """Clean all rows together, so one report covers the language, then give rows back their split."""
    tagged = [(s, r) for s, rs in rows.items() for r in rs]
    cleaned, rep, kept = preprocess([r for _, r in tagged], pre_cfg, code)
    report += rep.lines()
    out: dict[str, list[Example]] = {s: [] for s in rows}
    for r, i in zip(cleaned, kept):
        out[tagged[i][0]].append(r)
    return out


def _make_splits(rows: dict[str, list], ratios: dict[str, float], seed: int, notes: list[str]) -> list[str]:
    """Make the splits the data lacks (in place); returns their names."""
    made: list[str] = []
    sample = rows.get("all") or rows.get("train") or [None]
    how = f"stratified by label, seed {seed}" if isinstance(sample[0], Example) else f"sentences at random, seed {seed}"
    if "all" in rows:
        parts = stratified_split(rows.pop("all"), ratios, seed)
        rows.update(parts)
        made += list(parts)
        notes.append(f"no splits in the data: made {'/'.join(f'{v:g}' for v in ratios.values())} "
                     f"{'/'.join(ratios)} ({how})")
    if "validation" not in rows and rows.get("train"):
        share = ratios.get("validation", 0.15) / (ratios.get("train", 0.85) + ratios.get("validation", 0.15))
        parts = stratified_split(rows["train"], {"train": 1 - share, "validation": share}, seed)
        rows.update(parts)
        made.append("validation")
        notes.append(f"no validation split: {len(parts['validation'])} rows ({share:.0%}) held out of train ({how})")
    return made


def _check_overlap(rows: dict[str, list], notes: list[str]) -> None:
    """Texts shared between train and validation/test inflate scores: count and report them."""
    def key(r):
        return r.tokens if isinstance(r, TokenExample) else (r.text, r.text_pair)

    train = {key(r) for r in rows["train"]}
    unit = "sentences" if any(isinstance(r, TokenExample) for r in rows["test"][:1]) else "texts"
    for other in ("validation", "test"):
        shared = sum(key(r) in train for r in rows[other])
        notes.append(f"train/{other} overlap: {shared} of {len(rows[other])} {other} {unit} also in train")


def _unlabelled_file(path: Path) -> list[str]:
    if not path.is_file():
        raise XltError(f"unlabelled text file {'is a directory' if path.is_dir() else 'not found'}: {path}; give a "
                       "text file with one text per line")
    texts = [t for t in read_utf8(path).splitlines() if t.strip()]
    if not texts:
        raise XltError(f"unlabelled text file {path} has no text; give one text per line, or remove unlabelled: "
                       "to use the language's train and validation texts")
    return texts


HUB_SPLITS = {"train": "train", "validation": "validation", "valid": "validation", "dev": "validation", "test": "test"}


def _hub_records(hub_id: str, config: str | None) -> dict[str, list[dict]]:
    """Records of a Hugging Face datasets hub id, by split (online users)."""
    try:
        from datasets import load_dataset
    except ImportError:
        raise XltError(f"hf: {hub_id} needs the `datasets` package: pip install datasets") from None
    try:
        ds = load_dataset(hub_id, config)
    except Exception as exc:
        raise XltError(f"could not load {hub_id!r} from the Hugging Face hub ({type(exc).__name__}); offline, "
                       "use a named dataset with a local mirror or your own files (path:/files:)") from None
    return {HUB_SPLITS[split]: [dict(r) for r in ds[split]] for split in ds if split in HUB_SPLITS}
