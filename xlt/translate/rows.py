"""Translating labelled rows: texts keep their label; tagged words keep their tags, projected through the
translator's word alignment (each output word of a source word takes its tag; an entity's continuation
words become I- of its type)."""
from __future__ import annotations

import time
from dataclasses import replace

from xlt.data.examples import Example, TokenExample
from xlt.translate.cache import CacheStats, TranslationCache


def project_tags(tags: tuple[str, ...], alignment: list[list[int]], n_out: int) -> tuple[str, ...]:
    out = ["O"] * n_out
    for tag, targets in zip(tags, alignment):
        for k, j in enumerate(targets):
            out[j] = f"I-{tag[2:]}" if k and tag[:2] in ("B-", "I-") else tag
    return tuple(out)


def translate_rows(translator, cache: TranslationCache, rows: list, src: str, tgt: str) -> tuple[list, CacheStats]:
    """The rows in `tgt`, and what the cache did for them."""
    if rows and isinstance(rows[0], TokenExample):  # word by word (an aligning translator), not cached
        translator.check_pair(src, tgt)
        t0 = time.perf_counter()
        out = []
        for r in rows:
            words, alignment = translator.translate_words(list(r.tokens), src, tgt)
            out.append(TokenExample(tokens=tuple(words), tags=project_tags(r.tags, alignment, len(words))))
        return out, CacheStats(texts=len(rows), translated=len(rows), seconds=time.perf_counter() - t0)
    before = CacheStats(**vars(cache.stats))
    texts = cache.translate(translator, [r.text for r in rows], src, tgt)
    pairs = [r.text_pair for r in rows if r.text_pair is not None]
    pair_out = iter(cache.translate(translator, pairs, src, tgt) if pairs else [])
    out = [replace(r, text=t, text_pair=next(pair_out) if r.text_pair is not None else None) if isinstance(r, Example)
           else r for r, t in zip(rows, texts)]
    now = cache.stats
    return out, CacheStats(now.texts - before.texts, now.hits - before.hits, now.translated - before.translated,
                           now.seconds - before.seconds)
