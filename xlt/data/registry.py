"""Named public datasets, declared as data: where each language's splits live in a local mirror
(laid out as in `../shared/data`), which columns hold text and label, and the upstream URL that
online users download the same files from.

Resolution order for the mirror: an explicit data_dir (CLI --data-dir or the config), the
XLT_DATA_DIR environment variable, `[tool.xlt] data_dir` in the nearest pyproject.toml, and
finally xlt's download cache (files fetched from the upstream URL on first use).
"""
from __future__ import annotations

import os
import tomllib
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from xlt.errors import XltError


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    folder: str  # folder in the mirror
    base_url: str  # upstream prefix that mirrors `folder`
    files: dict[str, str]  # split -> path below folder, "{lang}" filled from `languages`
    languages: dict[str, str]  # ISO 639-3 code -> value substituted for {lang}
    text: str | list[str]
    label: str
    text_pair: str | None = None
    label_names: dict[str, str] = field(default_factory=dict)  # raw label -> readable name
    label_map: dict[str, str | None] | None = None  # default mapping (e.g. binary setting of a 7-label set)
    split_ratios: dict[str, float] | None = None  # this dataset's own ratios for splits it lacks (default: the config's)
    fallback_files: dict[str, str] = field(default_factory=dict)  # used when a `files` entry is absent
    citation: str = ""
    licence: str = ""
    note: str = ""
    format: str | None = None  # reader format when the suffix does not tell; conll and conllu hold tagged words
    language_files: dict[str, dict[str, str]] = field(default_factory=dict)  # per-language override of `files`
    download_urls: dict[str, str] = field(default_factory=dict)  # path below folder -> URL (default base_url/path)
    id: str | None = None  # a parallel set's row-id column: rows with one id translate each other

    def files_for(self, code: str) -> dict[str, str]:
        return self.language_files.get(code) or self.files


MASAKHANER2_LANGS = ["bam", "bbj", "ewe", "fon", "hau", "ibo", "kin", "lug", "luo", "mos", "nya", "pcm", "sna", "swa",
                     "tsn", "twi", "wol", "xho", "yor", "zul"]
MASAKHANER1_LANGS = ["amh", "hau", "ibo", "kin", "lug", "luo", "pcm", "swa", "wol", "yor"]
MASAKHANE_NER = "https://raw.githubusercontent.com/masakhane-io/masakhane-ner/ba5843cd08aa491d5f96a5e809e71eb9ec461391"
# UD treebanks: language -> (repository, commit, {split: file}); English trains on LinES (EWT train absent here)
UD_TREEBANKS = {
    "eng": {"train": ("UD_English-LinES", "30927439b9d383d21d0c86e647ba493cd89adf8c", "en_lines-ud-train.conllu"),
            "validation": ("UD_English-EWT", "15d613d8447b3478787d4c278730a1e48a945efb", "en_ewt-ud-dev.conllu"),
            "test": ("UD_English-EWT", "15d613d8447b3478787d4c278730a1e48a945efb", "en_ewt-ud-test.conllu")},
    "hin": {"test": ("UD_Hindi-PUD", "8bc630f73e0737ce5ed9eaa97abf11f172ecc9bd", "hi_pud-ud-test.conllu")},
    "amh": {"test": ("UD_Amharic-ATT", "2a7b52094758edd88ea67690ff86aed6a2f51481", "am_att-ud-test.conllu")},
    "yor": {"test": ("UD_Yoruba-YTB", "d07fe63b40512ac904a6519bae1658e9b05109ce", "yo_ytb-ud-test.conllu")},
    "pcm": {"test": ("UD_Naija-NSC", "be1b5101e9176a4dd8e1da47053afbccf60ae8ce", "pcm_nsc-ud-test.conllu")},
    "tgl": {"test": ("UD_Tagalog-TRG", "7151bec17280ebbfdb61f82126649f7b95216703", "tl_trg-ud-test.conllu")},
    "jav": {"test": ("UD_Javanese-CSUI", "f3baedde383bfe0364d56095ff24caee568fe0bb", "jv_csui-ud-test.conllu")},
    **{code: {split: (repo, commit, f"{prefix}-ud-{name}.conllu") for split, name in
              (("train", "train"), ("validation", "dev"), ("test", "test"))}
       for code, repo, commit, prefix in [
           ("tel", "UD_Telugu-MTG", "fea14d143ec43ba42b0b82381b55fd509839a1a0", "te_mtg"),
           ("wol", "UD_Wolof-WTB", "575a3ab64619a91de9950f01afb7c9f2d8cd28c4", "wo_wtb"),
           ("mar", "UD_Marathi-UFAL", "c02a08246fdb6c99257d7c5bc6ef14f736a995bf", "mr_ufal")]},
}

NUSAX_LANGS = {"ace": "acehnese", "ban": "balinese", "bjn": "banjarese", "bug": "buginese", "eng": "english",
               "ind": "indonesian", "jav": "javanese", "mad": "madurese", "min": "minangkabau", "nij": "ngaju",
               "sun": "sundanese", "bbc": "toba_batak"}

SIB200_LANGS = {"eng": "eng_Latn", "spa": "spa_Latn", "cat": "cat_Latn", "glg": "glg_Latn", "eus": "eus_Latn",
                "epo": "epo_Latn", "isl": "isl_Latn", "mkd": "mkd_Cyrl", "hrv": "hrv_Latn", "srp": "srp_Cyrl",
                "bos": "bos_Latn"}

DATASETS: dict[str, DatasetSpec] = {s.name: s for s in [
    DatasetSpec(
        name="nusax-senti", folder="nusax-senti",
        base_url="https://raw.githubusercontent.com/IndoNLP/nusax/75b0be5d982348332509f296e10d9bf9cb66d60f/datasets/sentiment",
        files={"train": "{lang}/train.csv", "validation": "{lang}/valid.csv", "test": "{lang}/test.csv"},
        languages=NUSAX_LANGS, text="text", label="label", id="id",
        citation="Winata et al. 2022, NusaX (arXiv:2205.15960)", licence="CC BY-SA 4.0"),
    DatasetSpec(
        name="sib-200", folder="sib-200",
        base_url="https://raw.githubusercontent.com/dadelani/sib-200/593cea88519930f776c1a4a1980b6a35b39dca57/"
                 "data/annotated",
        files={"train": "{lang}/train.tsv", "validation": "{lang}/dev.tsv", "test": "{lang}/test.tsv"},
        languages=SIB200_LANGS, text="text", label="category", id="index_id",
        citation="Adelani et al. 2023, SIB-200 (arXiv:2309.07445)", licence="CC BY-SA 4.0 (FLORES-200 texts)",
        note="topic classification of the parallel FLORES-200 sentences; the mirror holds English and the "
             "languages Debian's Apertium pairs with English (the full set has 205)"),
    DatasetSpec(
        name="masakhanews", folder="masakhanews",
        base_url="https://raw.githubusercontent.com/masakhane-io/masakhane-news/819be052e79e0a600e0ed4a7356594681cb5c4f3",
        files={"train": "data/{lang}/train.tsv", "validation": "data/{lang}/dev.tsv", "test": "data/{lang}/test.tsv"},
        fallback_files={"train": "few_shot_data/50_samples/{lang}/train.tsv"},
        languages={k: k for k in ["eng", "amh", "hau", "swa", "yor", "lin"]}, text=["headline", "text"], label="category",
        citation="Adelani et al. 2023, MasakhaNEWS (arXiv:2304.09972)", licence="not stated",
        note="label sets differ between languages; full train absent for eng/amh/hau/swa (50-per-label sample used)"),
    DatasetSpec(
        name="depression-reddit-en", folder="depression-reddit-en",
        base_url="https://raw.githubusercontent.com/sidegroup/depretracker-monorepo/0c9c053e7e6be3872dab5236b77c2062dd2d7a35/datasets",
        files={"all": "depression_dataset_reddit_cleaned.csv"}, languages={"eng": "eng"},
        text="clean_text", label="is_depression", label_names={"0": "control", "1": "depression"},
        licence="not stated", note="lower-cased, punctuation stripped; classes differ strongly in length"),
    DatasetSpec(
        name="depression-reddit-pirina2018", folder="depression-reddit-pirina2018",
        base_url="https://raw.githubusercontent.com/coltekin/identifying-depression/586914a6c44c77e7652c10070ceea8dd71798ee7/data",
        files={"train": "train.csv", "test": "test.csv"}, languages={"eng": "eng"}, text="text", label="label",
        label_map={"do": "depression", "nd": "control", "dsf": None, "ndf": None, "ds": None, "bc": None, "ff": None},
        split_ratios={"train": 0.85, "validation": 0.15},
        citation="Pirina & Coltekin 2018, SMM4H", licence="not stated",
        note="binary do-vs-nd setting by default (the test set's setting)"),
    DatasetSpec(
        name="depression-ar", folder="depression-ar",
        base_url="https://raw.githubusercontent.com/mohannadalshoushi/Transformers-Based-Arabic-Depression-Detection/a4fbf226135ad0ee88a9a8ab049cd652527ef6fa/attached_assets",
        files={"all": "combined_dataset.xlsx"}, languages={"ara": "ara"}, text="text", label="label",
        label_names={"0": "control", "1": "depression"}, licence="not stated",
        note="provenance undocumented; positives partly keyword-selected"),
    DatasetSpec(
        name="depression-lexicon-en-ja-ko", folder="depression-lexicon-en-ja-ko",
        base_url="https://raw.githubusercontent.com/dxlabskku/Mental-Health/d4b6d5051210fa0ec5784cf5c6c066cc45c1ee3c/data",
        files={"all": "twitter_{lang}.csv"}, languages={"eng": "English", "jpn": "Japanese", "kor": "Korean"},
        text="tweet", label="label", label_names={"0": "control", "1": "depression"}, licence="research use only",
        note="labels assigned by a lexicon, not annotators"),
    DatasetSpec(
        name="depression-bn-severity", folder="depression-bn-severity",
        base_url="https://raw.githubusercontent.com/omanwhatiscomputer/depression-severity/81e3b16edc334d5ee5554ee912b642bd03d8da3c/dataset",
        files={"all": "dataset.xlsx"}, languages={"ben": "ben"}, text="posts", label="labels",
        citation="Kabir et al. 2022, JMIR Formative Research", licence="not stated"),
    DatasetSpec(
        name="masakhaner2", folder="masakhaner2", base_url=f"{MASAKHANE_NER}/MasakhaNER2.0/data",
        files={"train": "{lang}/train.txt", "validation": "{lang}/dev.txt", "test": "{lang}/test.txt"},
        languages={k: k for k in MASAKHANER2_LANGS}, text="", label="", format="conll",
        citation="Adelani et al. 2022, MasakhaNER 2.0 (EMNLP)", licence="CC BY-NC 4.0"),
    DatasetSpec(
        name="masakhaner1", folder="masakhaner1", base_url=f"{MASAKHANE_NER}/data",
        files={"train": "{lang}/train.txt", "validation": "{lang}/dev.txt", "test": "{lang}/test.txt"},
        languages={k: k for k in MASAKHANER1_LANGS}, text="", label="", format="conll",
        citation="Adelani et al. 2021, MasakhaNER (TACL 9)", licence="CC BY-NC 4.0"),
    DatasetSpec(
        name="conll2003", folder="conll2003_en",
        base_url="https://raw.githubusercontent.com/Franck-Dernoncourt/NeuroNER/3817feaf290c1f6e03ae23ea964e68c88d0e7a88/neuroner/data/conll2003/en",
        files={"train": "train.txt", "validation": "valid.txt", "test": "test.txt"}, languages={"eng": "eng"},
        text="", label="", format="conll",
        citation="Tjong Kim Sang & De Meulder 2003", licence="research only (Reuters RCV1 text); do not redistribute",
        note="PER/ORG/LOC/MISC, no DATE"),
    DatasetSpec(
        name="ud-pos", folder="ud", base_url="https://raw.githubusercontent.com/UniversalDependencies",
        files={}, languages={k: k for k in UD_TREEBANKS}, text="", label="", format="conllu",
        language_files={code: {split: f"{repo}/{name}" for split, (repo, _, name) in splits.items()}
                        for code, splits in UD_TREEBANKS.items()},
        download_urls={f"{repo}/{name}": f"https://raw.githubusercontent.com/UniversalDependencies/{repo}/{commit}/{name}"
                       for splits in UD_TREEBANKS.values() for repo, commit, name in splits.values()},
        citation="Universal Dependencies (de Marneffe et al. 2021) and each treebank's README",
        licence="per treebank (CC BY-SA; English-LinES CC BY-NC-SA)",
        note="UPOS tags; English trains on LinES, validates and tests on EWT; several languages have a test split only"),
]}


def _pyproject_data_dir(start: Path) -> Path | None:
    for d in [start, *start.parents]:
        pp = d / "pyproject.toml"
        if pp.exists():
            try:
                conf = tomllib.loads(pp.read_text()).get("tool", {}).get("xlt", {})
            except (tomllib.TOMLDecodeError, OSError):
                return None
            if "data_dir" in conf:
                return (d / conf["data_dir"]).resolve()
            return None
    return None


def data_dir(explicit: str | Path | None = None) -> Path | None:
    """The local mirror directory, or None when datasets should be downloaded."""
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get("XLT_DATA_DIR"):
        return Path(os.environ["XLT_DATA_DIR"]).expanduser()
    return _pyproject_data_dir(Path.cwd())


def get_spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        import difflib

        close = difflib.get_close_matches(name, DATASETS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise XltError(f"unknown dataset {name!r}.{hint} Known: {', '.join(DATASETS)}; or give path: for your own file")
    return DATASETS[name]


def language_code(spec: DatasetSpec, language: str) -> str:
    """Accept an ISO code or the dataset's own name for a language."""
    if language in spec.languages:
        return language
    for code, val in spec.languages.items():
        if val.lower() == language.lower():
            return code
    raise XltError(f"dataset {spec.name} has no language {language!r}; available: {', '.join(spec.languages)}")


def locate(spec: DatasetSpec, code: str, root: Path | None) -> dict[str, Path]:
    """Local paths of this language's files, downloading them when no mirror is configured."""
    found: dict[str, Path] = {}
    for split, pattern in spec.files_for(code).items():
        candidates = [pattern] + ([spec.fallback_files[split]] if split in spec.fallback_files else [])
        for rel in (c.format(lang=spec.languages[code]) for c in candidates):
            if root is not None:
                p = root / spec.folder / rel
                if p.exists():
                    found[split] = p
                    break
            else:
                p = _download(spec, rel)
                if p is not None:
                    found[split] = p
                    break
    if not found:
        where = f"mirror {root / spec.folder}" if root else "the download cache (download failed: offline?)"
        raise XltError(f"no files for {spec.name}/{code} in {where}; point --data-dir or XLT_DATA_DIR at a copy "
                       f"laid out as {spec.folder}/{next(iter(spec.files_for(code).values())).format(lang=spec.languages[code])}")
    return found


def _download(spec: DatasetSpec, rel: str) -> Path | None:
    from xlt.models.embedded import cache_root

    target = cache_root() / "datasets" / spec.folder / rel
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(spec.download_urls.get(rel, f"{spec.base_url}/{rel}"), timeout=30) as resp:
            data = resp.read()
    except Exception:
        return None
    tmp = target.with_suffix(target.suffix + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, target)
    return target
