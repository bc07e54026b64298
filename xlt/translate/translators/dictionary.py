"""Word-by-word translation through bilingual lexicons: each word the lexicon knows becomes its first
listed translation, unknown words stay as they are. The oldest baseline of cross-lingual transfer
(and the one that works for any language with a word list); it keeps a word alignment, so token tags
(NER) can be projected onto the translation (translate-train for token tasks).

Lexicons pair English with one language: the named ones in the data mirror (Wiktionary BLI for amh, swa,
yor, ind, jav, tgl, hin, mar, tel; MUSE for ara, deu, spa, hin, rus; XLing-Eval BLI for deu, fin, fra, hrv,
ita, rus, tur) or your own word list with its `language:`. Both directions are served: English->L and L->English."""
from __future__ import annotations

import hashlib
import re
from typing import Literal

from pydantic import Field, model_validator

from xlt.data.lexicons import Dictionary, lexicon_paths
from xlt.errors import XltError
from xlt.files import read_utf8
from xlt.translate import TRANSLATORS
from xlt.translate.translators.base import Translator, TranslatorConfig

WORD_RE = re.compile(r"\w+|\W+")
ALGORITHM = "2"  # bump when the choice of translation changes, so cached outputs are not reused


class DictionaryConfig(TranslatorConfig):
    """Word-by-word translation with bilingual word lists."""

    name: Literal["dictionary"] = "dictionary"
    lexicons: list[Dictionary] = Field(min_length=1)
    """The word lists; each pairs English with its `language:` (own files give `language:` too)."""
    pivot: str = "eng"
    """The language on the other side of every list (the English column of the named lists, or of
    `order:` in your own)."""

    @model_validator(mode="after")
    def _languages(self):
        for lex in self.lexicons:
            if lex.language is None:
                raise ValueError(f"lexicon {lex.path}: give language: (the ISO 639-3 code it pairs with English)")
        return self


def read_glosses(text: str, order: str, reverse: bool) -> dict[str, list[str]]:
    """word (lower-cased) -> translations (a translation may be several words), first listed first.
    `order` says which column is English; `reverse` reads the list from the other language to English.
    A line with a tab splits at the tab (glosses hold spaces); otherwise at whitespace, two words."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        parts = [p.strip() for p in line.split("\t")] if "\t" in line else line.split()
        if len(parts) != 2 or not all(parts):
            continue
        eng, other = parts if order == "source-target" else parts[::-1]
        key, value = (other, eng) if reverse else (eng, other)
        keys = [key]
        if not reverse and key.startswith("to ") and len(key.split()) == 2:  # Wiktionary's "to eat": key "eat"
            keys.append(key.split()[1])
        for k in keys:
            if len(k.split()) == 1:
                have = out.setdefault(k.lower(), [])
                if value not in have:
                    have.append(value)
    return out


@TRANSLATORS.register
class DictionaryTranslator(Translator):
    name = "dictionary"
    config = DictionaryConfig
    aligns_words = True

    def __init__(self, cfg: DictionaryConfig, data_dir: str | None = None):
        super().__init__(cfg, data_dir)
        self._tables: dict[tuple[str, str], dict[str, list[str]]] = {}
        self._digests: dict[str, str] = {}

    def pairs(self) -> list[tuple[str, str]]:
        langs = sorted({lex.language for lex in self.cfg.lexicons})
        pivot = self.cfg.pivot
        return [p for lang in langs for p in ((pivot, lang), (lang, pivot))]

    def missing_hint(self, src: str, tgt: str) -> str:
        return "add a lexicon pairing that language with English (translator.lexicons); "

    def _texts(self, lang: str) -> list[tuple[str, str]]:
        """(file text, order) of every lexicon of `lang`."""
        out = []
        for lex in self.cfg.lexicons:
            if lex.language == lang:
                paths, order, _ = lexicon_paths(lex, self.data_dir)
                out += [(read_utf8(p), order) for p in paths]
        return out

    def table(self, src: str, tgt: str) -> dict[str, list[str]]:
        if (src, tgt) not in self._tables:
            self.check_pair(src, tgt)
            lang = tgt if src == self.cfg.pivot else src
            merged: dict[str, list[str]] = {}
            for text, order in self._texts(lang):
                for w, cands in read_glosses(text, order, reverse=src != self.cfg.pivot).items():
                    have = merged.setdefault(w, [])
                    have += [c for c in cands if c not in have]
            if not merged:
                raise XltError(f"the lexicons for {lang} hold no usable word pairs (one pair per line)")
            self._tables[(src, tgt)] = merged
        return self._tables[(src, tgt)]

    def version(self, src: str, tgt: str) -> str:
        lang = tgt if src == self.cfg.pivot else src
        if lang not in self._digests:
            h = hashlib.sha256(ALGORITHM.encode())
            for text, order in self._texts(lang):
                h.update(order.encode() + text.encode())
            self._digests[lang] = h.hexdigest()[:16]
        return self._digests[lang]

    def _word(self, word: str, table: dict[str, list[str]]) -> str:
        cands = table.get(word.lower())
        if not cands:
            return word
        new = cands[0]
        return new[:1].upper() + new[1:] if word[:1].isupper() else new

    def translate(self, texts: list[str], src: str, tgt: str) -> list[str]:
        table = self.table(src, tgt)
        return ["".join(self._word(p, table) if p[:1].isalnum() else p for p in WORD_RE.findall(t)) for t in texts]

    def translate_words(self, words: list[str], src: str, tgt: str) -> tuple[list[str], list[list[int]]]:
        table = self.table(src, tgt)
        out: list[str] = []
        alignment: list[list[int]] = []
        for w in words:
            new = self._word(w, table).split() or [w]
            alignment.append(list(range(len(out), len(out) + len(new))))
            out += new
        return out, alignment

    def coverage(self, texts: list[str], src: str, tgt: str) -> float:
        """Share of word tokens the lexicon knows (what a dictionary translation can change)."""
        table = self.table(src, tgt)
        words = [w for t in texts for w in re.findall(r"\w+", t)]
        return sum(w.lower() in table for w in words) / max(len(words), 1)
