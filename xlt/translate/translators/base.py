"""What a translator declares and does."""
from __future__ import annotations

from typing import ClassVar, Literal

from xlt.errors import XltError
from xlt.settings import Strict


class TranslatorConfig(Strict):
    """Settings every translator shares; each translator subclasses it with a `name` literal."""

    name: str


class Translator:
    """One translation engine. Languages are ISO 639-3 codes, as everywhere in xlt."""

    name: ClassVar[str]
    config: ClassVar[type[TranslatorConfig]]
    offline: ClassVar[bool] = True  # works with no network
    oracle: ClassVar[bool] = False  # gold translations: an upper bound, never a real system
    aligns_words: ClassVar[bool] = False  # `translate_words` keeps a word alignment (tag projection needs one)

    def __init__(self, cfg: TranslatorConfig, data_dir: str | None = None):
        self.cfg = cfg
        self.data_dir = data_dir

    def version(self, src: str, tgt: str) -> str:
        """What identifies this engine's output for a pair (package version, lexicon digest, model revision):
        a cached translation is reused only under the same version."""
        raise NotImplementedError

    def pairs(self) -> list[tuple[str, str]]:
        """(from, to) language pairs this translator can translate."""
        raise NotImplementedError

    def translate(self, texts: list[str], src: str, tgt: str) -> list[str]:
        """One translation per text, in order (use `xlt.translate.cache.translate` to go through the cache)."""
        raise NotImplementedError

    def translate_words(self, words: list[str], src: str, tgt: str) -> tuple[list[str], list[list[int]]]:
        """Words of one sentence -> (translated words, for each input word the indexes of its output words)."""
        raise XltError(f"translator {self.name} keeps no word alignment, so tags cannot be projected through "
                       "it; use the dictionary translator for token tasks")

    def label(self) -> str:
        """How tables name it: "apertium", "parallel (oracle)"."""
        return f"{self.name} (oracle)" if self.oracle else self.name

    def check_pair(self, src: str, tgt: str) -> None:
        have = self.pairs()
        if (src, tgt) not in have:
            listed = ", ".join(f"{a}->{b}" for a, b in sorted(have)) or "none"
            raise XltError(f"translator {self.name} cannot translate {src}->{tgt}; {self.missing_hint(src, tgt)}"
                           f"it has: {listed}")

    def missing_hint(self, src: str, tgt: str) -> str:
        """What to do about a pair it lacks (a package to install, a lexicon to give); ends with "; " if any."""
        return ""


Direction = Literal["source-target", "target-source"]
