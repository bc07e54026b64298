"""Machine translation on LASER's Tatoeba test pairs: every installed Apertium pair in every direction it
has, beside copying the input and the dictionary translator where a lexicon pairs the languages. Scores are
sacrebleu's BLEU, chrF and chrF++ (signatures printed once).

    python bench/mt_eval.py                  # prints the markdown table for BENCHMARKS.md
    python bench/mt_eval.py --cache PATH     # another translation cache (default: a fresh one in bench/out)
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--cache", default=str(Path(__file__).parent / "out" / "translations.sqlite"))
    args = ap.parse_args()
    from xlt.translate import make_translator
    from xlt.translate.cache import TranslationCache
    from xlt.translate.evaluate import evaluate, tatoeba

    apertium = make_translator("apertium")
    pairs = sorted(apertium.pairs(), key=lambda p: (p[0] if p[1] == "eng" else p[1], p[0] != "eng"))
    if not pairs:
        raise SystemExit("no Apertium pairs installed (apt-get install apertium apertium-eng-spa ...)")
    cache = TranslationCache(Path(args.cache))
    print("| pair | segments | system | BLEU | chrF | chrF++ | seconds |")
    print("|---|---|---|---|---|---|---|")
    signatures = None
    for src, tgt in pairs:
        other, english = tatoeba(tgt if src == "eng" else src, args.data_dir)
        sources, refs = (english, other) if src == "eng" else (other, english)
        t0 = time.perf_counter()
        rows = evaluate([apertium], sources, refs, src, tgt, cache, args.data_dir)
        seconds = time.perf_counter() - t0
        for r in rows:
            cell = f"{seconds:.1f}" if r.system == "apertium" else ""
            print(f"| {src}->{tgt} | {len(sources)} | {r.system} | {r.bleu:.1f} | {r.chrf:.1f} | {r.chrf_pp:.1f} | "
                  f"{cell} |")
        signatures = rows[-1].signatures
    print()
    for name, sig in (signatures or {}).items():
        print(f"{name}: {sig}")
    print(f"\ncache: {cache.stats.as_dict()}")


if __name__ == "__main__":
    main()
