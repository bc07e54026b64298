"""From a DataSource in the config to cleaned, split examples of one language: the one path data takes."""
from __future__ import annotations

from pathlib import Path

from xlt.data import registry
from xlt.data.examples import Example, LanguageData
from xlt.data.load_tokens import load_token_language
from xlt.data.preprocess import PreprocessReport, preprocess
from xlt.data.readers import read_records, records_to_examples
from xlt.data.splits import stratified_split
from xlt.errors import XltError

SPLITS = ("train", "validation", "test")


DEFAULT_RATIOS = {"train": 0.7, "validation": 0.15, "test": 0.15}


def load_language(src, pre_cfg, data_dir: str | None = None, split_seed: int = 0) -> tuple[LanguageData, PreprocessReport]:
    """Read, clean and split one DataSource; checks train/test overlap and records what it found."""
    notes: list[str] = []
    code, name = src.language, src.display_name()
    text, label, pair, label_map, names = src.text, src.label, src.text_pair, src.label_map, {}
    ratios = src.split_ratios or DEFAULT_RATIOS
    if src.dataset:  # a named benchmark: the registry fills in what the config leaves out
        spec = registry.get_spec(src.dataset)
        code = registry.language_code(spec, src.language or next(iter(spec.languages)))
        paths = registry.locate(spec, code, registry.data_dir(data_dir))
        if spec.task != "classification":
            return load_token_language(name, code, paths, src.format or spec.format, src.tag_column, src.label_map,
                                       src.train_limit, split_seed)
        text, label, pair = text or spec.text, label or spec.label, pair or spec.text_pair
        label_map = label_map if label_map is not None else spec.label_map
        names, ratios = spec.label_names, src.split_ratios or spec.split_ratios
        records = {split: (read_records(p, src.format), p) for split, p in paths.items()}
    elif src.hf:
        records = {split: (recs, f"{src.hf}[{split}]") for split, recs in _hub_records(src.hf, src.hf_config).items()}
    else:
        paths = {"all": Path(src.path)} if src.path else {k: Path(v) for k, v in src.files.items()}
        bad = set(paths) - set(SPLITS) - {"all"}
        if bad:
            raise XltError(f"files: unknown split names {sorted(bad)}; use train, validation and test")
        if src.format in ("conll", "conllu") or any(Path(p).suffix == ".conllu" for p in paths.values()):
            return load_token_language(name, code, paths, src.format, src.tag_column, src.label_map,
                                       src.train_limit, split_seed)
        records = {split: (read_records(p, src.format), p) for split, p in paths.items()}
    raw = {split: [Example(r.text, names.get(r.label, r.label), r.text_pair)
                   for r in records_to_examples(recs, where, text, label, pair, label_map)]
           for split, (recs, where) in records.items()}

    # clean all rows together so one report covers the language, then give rows back their split
    tagged = [(s, r) for s, rows in raw.items() for r in rows]
    cleaned, report, kept = preprocess([r for _, r in tagged], pre_cfg, code)
    by_split: dict[str, list[Example]] = {s: [] for s in raw}
    for r, i in zip(cleaned, kept):
        by_split[tagged[i][0]].append(r)
    splits = _make_splits(by_split, ratios, split_seed, notes)
    _check_overlap(splits, notes)
    for s in ("train", "test"):
        if not splits.get(s):
            raise XltError(f"{name}/{code}: the {s} split is empty after preprocessing; relax preprocess (min_words?)")
    return LanguageData(name, code, splits, notes), report


def _make_splits(by_split: dict[str, list[Example]], ratios: dict[str, float], seed: int,
                 notes: list[str]) -> dict[str, list[Example]]:
    """Use the splits the data has; make stratified ones (seeded) for what is missing."""
    if "all" in by_split:
        parts = stratified_split(by_split.pop("all"), ratios, seed)
        notes.append(f"no splits in the data: made stratified {'/'.join(f'{v:g}' for v in ratios.values())} "
                     f"{'/'.join(ratios)} split (seed {seed})")
        by_split.update(parts)
    if "validation" not in by_split and "train" in by_split:
        share = ratios.get("validation", 0.15) / (ratios.get("train", 0.85) + ratios.get("validation", 0.15))
        parts = stratified_split(by_split["train"], {"train": 1 - share, "validation": share}, seed)
        notes.append(f"no validation split: {len(parts['validation'])} rows held out of train, stratified (seed {seed})")
        by_split.update(parts)
    return {s: by_split.get(s, []) for s in SPLITS}


def _check_overlap(splits: dict[str, list[Example]], notes: list[str]) -> None:
    """Texts shared between train and validation/test inflate scores: count and report them."""
    train = {(e.text, e.text_pair) for e in splits["train"]}
    for other in ("validation", "test"):
        shared = sum((e.text, e.text_pair) in train for e in splits[other])
        notes.append(f"train/{other} overlap: {shared} of {len(splits[other])} {other} texts also in train")


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
    out = {}
    for split in ds:
        if split in HUB_SPLITS:
            out[HUB_SPLITS[split]] = [dict(r) for r in ds[split]]
    return out
