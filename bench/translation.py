"""Translation in the loop on the shared data, in one process (the frozen encoder's features are computed once
and shared by every config): SIB-200 from English with Apertium and with the gold parallel oracle, NusaX-senti
Javanese with the dictionary translator and Javanese and Sundanese with the oracle; SIB-200 again with LoRA;
and NER translate-train through the dictionary translator (CoNLL-2003 to MasakhaNER Swahili, Yoruba,
Amharic). Prints, per target, the mean ± SD over seeds of zero-shot, translate-test and translate-train, and
each translate row's difference from zero-shot.

    python bench/translation.py                 # runs what is not finished, then prints the tables
    python bench/translation.py --only sib      # one group: sib, nusax, sib-lora (LoRA, about 20 minutes),
                                                # ner (CoNLL-2003 -> MasakhaNER, full fine-tuning, about an hour)
    python bench/translation.py --table-only    # the tables from the stores
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

HERE = Path(__file__).parent / "translation"
CONFIGS = {"sib": ["sib-apertium", "sib-apertium-with-source", "sib-oracle"],
           "nusax": ["nusax-dictionary", "nusax-induced", "nusax-oracle"],
           "sib-lora": ["sib-apertium-lora"],
           "ner": ["ner-dictionary"]}
COLUMNS = [("zero_shot", "sib-apertium", "Zero-shot"), ("translate_test", "sib-apertium", "Translate-test (apertium)"),
           ("translate_train", "sib-apertium", "Translate-train (apertium)"),
           ("translate_train", "sib-apertium-with-source", "Translate-train + English (apertium)"),
           ("translate_test", "sib-oracle", "Translate-test (oracle)"),
           ("translate_train", "sib-oracle", "Translate-train (oracle)")]
LORA_COLUMNS = [("zero_shot", "sib-apertium-lora", "Zero-shot (LoRA)"),
                ("translate_test", "sib-apertium-lora", "Translate-test (apertium, LoRA)"),
                ("translate_train", "sib-apertium-lora", "Translate-train (apertium, LoRA)")]
NER_COLUMNS = [("zero_shot", "ner-dictionary", "Zero-shot"),
               ("translate_train", "ner-dictionary", "Translate-train (dictionary, tags projected)")]
NUSAX_COLUMNS = [("zero_shot", "nusax-oracle", "Zero-shot"),
                 ("translate_test", "nusax-dictionary", "Translate-test (dictionary)"),
                 ("translate_train", "nusax-dictionary", "Translate-train (dictionary)"),
                 ("translate_test", "nusax-induced", "Translate-test (induced list)"),
                 ("translate_train", "nusax-induced", "Translate-train (induced list)"),
                 ("translate_test", "nusax-oracle", "Translate-test (oracle)"),
                 ("translate_train", "nusax-oracle", "Translate-train (oracle)")]


def table(outs: dict, columns: list) -> None:
    import numpy as np

    langs = sorted({lang for res in outs.values() for lang in res.runs["language"] if lang != "eng"})
    print("| target | " + " | ".join(c[2] for c in columns) + " |")
    print("|---|" + "---|" * len(columns))
    means: dict[str, list[float]] = {c[2]: [] for c in columns}
    gains: dict[str, list[float]] = {c[2]: [] for c in columns}
    for lang in langs:
        cells, zero = [], None
        for strategy, name, title in columns:
            runs = outs[name].runs
            vals = 100 * runs[(runs["language"] == lang) & (runs["strategy"] == strategy)]["score"].to_numpy()
            if not len(vals):
                cells.append("-")
                continue
            m = float(np.mean(vals))
            means[title].append(m)
            zero = m if strategy == "zero_shot" else zero
            if zero is not None:
                gains[title].append(m - zero)
            delta = f" ({m - zero:+.1f})" if zero is not None and strategy != "zero_shot" else ""
            cells.append(f"{m:.1f} ± {np.std(vals, ddof=1) if len(vals) > 1 else 0:.1f}{delta}")
        print(f"| {lang} | " + " | ".join(cells) + " |")
    print("| mean (languages it covers) | " + " | ".join(
        f"{np.mean(v):.1f} ({len(v)}; {np.mean(gains[t]):+.1f})" if v and gains[t] else
        (f"{np.mean(v):.1f} ({len(v)})" if v else "-") for t, v in means.items()) + " |")


def cache_summary(res) -> str:
    """What the translation cache did for one config's translated splits (each split is translated once per
    experiment; every run that reads it records the same statistics): texts, found, translated."""
    from xlt.store import Store

    texts = hits = translated = 0
    seconds = 0.0
    parts = {}
    for run in Store(res.store).runs():
        for name, part in ((run.get("train_info") or {}).get("translation") or {}).items():
            if isinstance(part, dict):
                parts.setdefault(name, part)
    for part in parts.values():
        texts, hits = texts + part["texts"], hits + part["cache_hits"]
        translated, seconds = translated + part["translated"], seconds + part["translate_seconds"]
    return f"{texts} texts, {hits} from the cache, {translated} translated in {seconds:.1f} s"


def induce_lists(data_dir: str | None) -> None:
    """The word lists nusax-induced.yaml reads, from NusaX's parallel training sentences."""
    from xlt.files import atomic_write_text
    from xlt.translate.induce import induce_lexicon, sentence_pairs

    out = Path(__file__).parent / "out" / "translation"
    out.mkdir(parents=True, exist_ok=True)
    for lang in ("jav", "sun"):
        words = induce_lexicon(sentence_pairs("nusax-senti", "eng", lang, "train", data_dir))
        atomic_write_text(out / f"eng-{lang}-induced.txt", "".join(f"{a}\t{b}\n" for a, b, _ in words))
        print(f"eng-{lang}: {len(words)} word pairs induced from the training sentences")


def lexicon_coverage(name: str, data_dir: str | None) -> None:
    """For a dictionary-translator config: each target's word list size and the share of the source's training
    words it replaces."""
    import re

    from xlt.config import load_config
    from xlt.data.pipeline import load_language
    from xlt.translate import get_translator

    exp = load_config(HERE / f"{name}.yaml")
    data = load_language(exp.source, exp.preprocess, data_dir, exp.split_ratios, exp.split_seed)
    data = data[0] if isinstance(data, tuple) else data
    words = [w for r in data.splits["train"] for w in (r.tokens if hasattr(r, "tokens") else re.findall(r"\w+", r.text))]
    t = get_translator(exp.translation.translator, data_dir)
    for target in exp.targets:
        table = t.table(data.language, target.language)
        share = sum(w.lower() in table for w in words) / len(words)
        print(f"{name} {target.language}: {len(table)} source words in its list, {100 * share:.0f}% of the "
              f"{len(words)} source training words replaced")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--table-only", action="store_true")
    ap.add_argument("--only", choices=list(CONFIGS), default=None)
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args()
    import xlt
    from xlt.config import load_config

    for group, names in CONFIGS.items():
        if args.only and group != args.only:
            continue
        if group == "nusax":
            induce_lists(args.data_dir)
        outs = {}
        for name in names:
            exp = load_config(HERE / f"{name}.yaml")
            t0 = time.perf_counter()
            res = xlt.Results.from_dir(exp.output.dir) if args.table_only else \
                xlt.run(exp, data_dir=args.data_dir, progress=False)
            outs[name] = res
            took = "" if args.table_only else f" in {time.perf_counter() - t0:.0f} s"
            print(f"{name}: {len(res.runs)} runs{took}; translation: {cache_summary(res)}")
        if group in ("ner", "nusax"):
            lexicon_coverage("ner-dictionary" if group == "ner" else "nusax-dictionary", args.data_dir)
        print()
        table(outs, {"sib": COLUMNS, "nusax": NUSAX_COLUMNS, "sib-lora": LORA_COLUMNS, "ner": NER_COLUMNS}[group])
        print()


if __name__ == "__main__":
    main()
