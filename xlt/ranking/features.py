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
"""
from __future__ import annotations

import math
from functools import lru_cache

from xlt.errors import XltError

# distance name -> (file in lang2vec's data folder, feature-name prefix); the kNN-completed typology has no gaps
URIEL_SETS = {"genetic": ("family_features.npz", ""), "geographic": ("geocoord_features.npz", ""),
              "syntactic": ("feature_predictions.npz", "S_"), "phonological": ("feature_predictions.npz", "P_"),
              "inventory": ("feature_predictions.npz", "INV_")}
PAIR_FEATURES = [*URIEL_SETS, "subword_overlap", "source_size", "label_overlap"]
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
    file, prefix = URIEL_SETS[name]
    rows, feats, data = _table(file)
    keep = [i for i, f in enumerate(feats) if f.startswith(prefix)]
    return data[rows[code], keep].astype(float)


def uriel_distances(source: str, target: str) -> dict[str, float | None]:
    """Cosine distance per URIEL feature set; None for each where a language is unknown."""
    import numpy as np

    a, b = uriel_code(source), uriel_code(target)
    out: dict[str, float | None] = {}
    for name in URIEL_SETS:
        if a is None or b is None:
            out[name] = None
            continue
        u, v = _vector(a, name), _vector(b, name)
        nu, nv = np.linalg.norm(u), np.linalg.norm(v)
        out[name] = float(1 - u @ v / (nu * nv)) if nu > 0 and nv > 0 else None
    return out


def subword_types(tokenizer, data, limit: int = 2000) -> frozenset[str]:
    """The subword types of a language's training texts (its test texts when it has no training split), at
    most `limit` texts."""
    texts = [r.text for r in (data.splits["train"] or data.splits["test"])][:limit]
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    return frozenset(tokenizer.convert_ids_to_tokens(sorted({i for seq in ids for i in seq})))


def pair_features(source, target, source_types: frozenset, target_types: frozenset) -> dict[str, float | None]:
    """Every feature of one pair; `source` and `target` are LanguageData, the types their subword sets."""
    shared = len(source_types & target_types)
    labels_s, labels_t = _label_set(source), _label_set(target)
    return {**uriel_distances(source.language, target.language),
            "subword_overlap": shared / max(1, len(source_types) + len(target_types)),
            "source_size": math.log(max(1, len(source.splits["train"]))),
            "label_overlap": len(labels_s & labels_t) / max(1, len(labels_s | labels_t))}


def _label_set(data) -> set[str]:
    """Class labels, or the entity types of IOB tags (B-PER -> PER)."""
    return {lab.split("-", 1)[-1] for lab in data.labels if lab != "O"}
