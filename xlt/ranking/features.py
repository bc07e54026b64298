"""Features of a (source, target) language pair, as LANGRANK (Lin et al., 2019) uses them:

- URIEL distances (Littell et al., 2017) from the `lang2vec` package's bundled feature files, no network:
  genetic (language-family membership), geographic (proximity to points on the globe), syntactic,
  phonological and phonetic-inventory (kNN-completed typological features); each the cosine distance of
  the two languages' vectors. A language URIEL does not know gets a warning and no URIEL features: the
  ranking goes on with the others.
- subword overlap: shared subword types of the two languages' training texts under the model's
  tokenizer, |V_s & V_t| / (|V_s| + |V_t|) (LANGRANK's definition);
- source size: log of the source's training rows;
- label overlap: Jaccard overlap of the label sets (entity types for NER).

The rest of LANGRANK's features (`LANGRANK_EXTRA`), for the learned ranker: word overlap (the same ratio over
whitespace-separated, lower-cased word types), the type-token ratio of each side's words and their distance
(1 - TTR_s / TTR_t)^2, the target's size and the log size ratio, and URIEL's featural distance (syntax,
phonology and inventory in one vector).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from xlt.errors import XltError

# distance name -> (file in lang2vec's data folder, feature-name prefix); the kNN-completed typology has no gaps
URIEL_SETS = {"genetic": ("family_features.npz", ""), "geographic": ("geocoord_features.npz", ""),
              "syntactic": ("feature_predictions.npz", "S_"), "phonological": ("feature_predictions.npz", "P_"),
              "inventory": ("feature_predictions.npz", "INV_")}
PAIR_FEATURES = [*URIEL_SETS, "subword_overlap", "source_size", "label_overlap"]
LANGRANK_EXTRA = ["featural", "word_overlap", "ttr_source", "ttr_target", "ttr_distance", "target_size",
                  "size_ratio"]
TEXT_LIMIT = 2000  # texts per language that subword and word types are counted on (`_texts`)
# ISO 639-3 macrolanguage codes that URIEL files under an individual language
URIEL_ALIASES = {"swa": "swh", "ara": "arb", "zho": "cmn", "msa": "zsm", "fas": "pes", "est": "ekk", "lav": "lvs",
                 "nep": "npi", "ori": "ory", "uzb": "uzn", "aze": "azj", "mon": "khk", "kon": "kng", "orm": "gaz",
                 "kur": "kmr", "pus": "pbt", "que": "quy", "yid": "ydd", "zul": "zul"}


@lru_cache(maxsize=4)
def _table(file: str):
    """(language -> row, feature names, data) of one of lang2vec's bundled arrays, read without pickle and
    found through the installed distribution: the package's own loader is not imported (it needs
    pkg_resources, and its `lang2vec.py` script in the environment's bin folder shadows it there)."""
    from importlib.metadata import PackageNotFoundError, distribution

    import numpy as np

    try:
        path = distribution("lang2vec").locate_file(f"lang2vec/data/{file}")
    except PackageNotFoundError:
        raise XltError("URIEL features need the lang2vec package: pip install lang2vec==1.1.2") from None
    with np.load(str(path), allow_pickle=False) as d:
        return {code: i for i, code in enumerate(d["langs"])}, list(d["feats"]), d["data"][:, :, 0]


def uriel_code(code: str) -> str | None:
    """The code URIEL knows the language by, or None."""
    rows, _, _ = _table("family_features.npz")
    code = URIEL_ALIASES.get(code, code)
    return code if code in rows else None


def _vector(code: str, name: str):
    file, prefix = URIEL_SETS.get(name, ("feature_predictions.npz", ""))  # featural: every typological feature
    rows, feats, data = _table(file)
    keep = [i for i, f in enumerate(feats) if f.startswith(prefix)]
    return data[rows[code], keep].astype(float)


def uriel_distances(source: str, target: str) -> dict[str, float | None]:
    """Cosine distance per URIEL feature set; None for each where a language is unknown."""
    import numpy as np

    a, b = uriel_code(source), uriel_code(target)
    out: dict[str, float | None] = {}
    for name in [*URIEL_SETS, "featural"]:
        if a is None or b is None:
            out[name] = None
            continue
        u, v = _vector(a, name), _vector(b, name)
        nu, nv = np.linalg.norm(u), np.linalg.norm(v)
        out[name] = float(1 - u @ v / (nu * nv)) if nu > 0 and nv > 0 else None
    return out


def _texts(data, limit: int = TEXT_LIMIT) -> list[str]:
    """A language's training texts (its test texts when it has no training split), at most `limit`."""
    return [r.text for r in (data.splits["train"] or data.splits["test"])][:limit]


@dataclass(frozen=True)
class TextProfile:
    """What the pair features read of one language's texts (`_texts`), computed once per language however many
    pairs it enters: its subword types under the model's tokenizer, and its lower-cased, whitespace-separated
    word types with their type-token ratio."""

    subwords: frozenset[str]
    words: frozenset[str]
    ttr: float


def word_profile(data) -> tuple[frozenset[str], float]:
    """The word types of a language's texts and their type-token ratio."""
    tokens = [w for text in _texts(data) for w in text.lower().split()]
    types = frozenset(tokens)
    return types, len(types) / max(1, len(tokens))


def text_profile(tokenizer, data) -> TextProfile:
    ids = tokenizer(_texts(data), add_special_tokens=False)["input_ids"]
    subwords = frozenset(tokenizer.convert_ids_to_tokens(sorted({i for seq in ids for i in seq})))
    return TextProfile(subwords, *word_profile(data))


def _overlap(a: frozenset, b: frozenset) -> float:
    return len(a & b) / max(1, len(a) + len(b))


def pair_features(source, target, source_text: TextProfile,
                  target_text: TextProfile) -> dict[str, float | None]:
    """Every feature of one pair; `source` and `target` are LanguageData, the profiles their texts'."""
    labels_s, labels_t = _label_set(source), _label_set(target)
    ttr_s, ttr_t = source_text.ttr, target_text.ttr
    size_s, size_t = (math.log(max(1, len(d.splits["train"]))) for d in (source, target))
    return {**uriel_distances(source.language, target.language),
            "subword_overlap": _overlap(source_text.subwords, target_text.subwords),
            "source_size": size_s,
            "label_overlap": len(labels_s & labels_t) / max(1, len(labels_s | labels_t)),
            "word_overlap": _overlap(source_text.words, target_text.words), "ttr_source": ttr_s,
            "ttr_target": ttr_t, "ttr_distance": (1 - ttr_s / ttr_t) ** 2 if ttr_t else None,
            "target_size": size_t, "size_ratio": size_s - size_t}


def _label_set(data) -> set[str]:
    """Class labels, or the entity types of IOB tags (B-PER -> PER)."""
    return {lab.split("-", 1)[-1] for lab in data.labels if lab != "O"}
