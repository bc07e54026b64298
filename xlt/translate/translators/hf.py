"""A sequence-to-sequence translation model through transformers: Marian (Tiedemann and Thottingal,
2020), NLLB (NLLB Team, 2022), M2M100 (Fan et al., 2021), by hub id when online or from a local
directory. Weights load through safetensors only.

Marian models translate one fixed pair, so `pairs:` says which (an `opus-mt-en-de` model: [[eng, deu]]).
Many-to-many models need each language's code in the model's own vocabulary (`codes: {eng: eng_Latn}`
for NLLB, `{eng: en}` for M2M100); the target code is forced as the first generated token."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from xlt.errors import XltError
from xlt.settings import setting
from xlt.translate import TRANSLATORS
from xlt.translate.translators.base import Translator, TranslatorConfig


class HFConfig(TranslatorConfig):
    """A transformers seq2seq translation model."""

    name: Literal["hf"] = "hf"
    model: str
    """Hub id (online) or a local directory saved with save_pretrained (safetensors)."""
    pairs: list[tuple[str, str]] = Field(min_length=1)
    """The (from, to) pairs it translates, as ISO 639-3 codes."""
    codes: dict[str, str] = {}
    """Many-to-many models: ISO 639-3 -> the model's language code (NLLB eng_Latn, M2M100 en)."""
    batch_size: int = setting(16, ge=1, identity="none")
    """Texts translated at once."""
    max_new_tokens: int = Field(256, ge=1)
    """The longest translation, in tokens."""
    num_beams: int = Field(4, ge=1)
    """Beam search width (1: greedy)."""
    revision: str | None = None
    """A hub revision (commit) to pin; ignored for local directories."""


@TRANSLATORS.register
class HFTranslator(Translator):
    name = "hf"
    config = HFConfig
    offline = False  # a hub id needs the network once; a local directory does not

    def __init__(self, cfg: HFConfig, data_dir: str | None = None):
        super().__init__(cfg, data_dir)
        self._loaded = None

    def pairs(self) -> list[tuple[str, str]]:
        return [tuple(p) for p in self.cfg.pairs]

    def missing_hint(self, src: str, tgt: str) -> str:
        return "list it in translator.pairs if the model translates it; "

    def version(self, src: str, tgt: str) -> str:
        local = Path(self.cfg.model)
        if local.is_dir():
            import hashlib

            h = hashlib.sha256()
            for f in sorted(local.glob("*.safetensors")):
                st = f.stat()
                h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
            return f"local:{h.hexdigest()[:16]}:beams{self.cfg.num_beams}"
        return f"{self.cfg.model}@{self.cfg.revision or 'main'}:beams{self.cfg.num_beams}"

    def _load(self):
        if self._loaded is None:
            from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

            kw = {"revision": self.cfg.revision} if self.cfg.revision and not Path(self.cfg.model).is_dir() else {}
            try:
                tok = AutoTokenizer.from_pretrained(self.cfg.model, **kw)
                model = AutoModelForSeq2SeqLM.from_pretrained(self.cfg.model, use_safetensors=True, **kw)
            except OSError as exc:
                raise XltError(f"translation model {self.cfg.model} cannot be loaded ({str(exc).splitlines()[0]}); "
                               "give a local directory with safetensors weights, or a hub id when online") from None
            self._loaded = (tok, model.eval())
        return self._loaded

    def translate(self, texts: list[str], src: str, tgt: str) -> list[str]:
        import torch

        tok, model = self._load()
        kw = {}
        if self.cfg.codes:
            if src not in self.cfg.codes or tgt not in self.cfg.codes:
                raise XltError(f"translator.codes has no model code for {src if src not in self.cfg.codes else tgt}")
            tok.src_lang = self.cfg.codes[src]
            kw["forced_bos_token_id"] = tok.convert_tokens_to_ids(self.cfg.codes[tgt])
        out: list[str] = []
        for i in range(0, len(texts), self.cfg.batch_size):
            batch = tok(texts[i:i + self.cfg.batch_size], return_tensors="pt", padding=True, truncation=True,
                        max_length=min(tok.model_max_length, 512))
            with torch.inference_mode():
                ids = model.generate(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                     max_new_tokens=self.cfg.max_new_tokens, num_beams=self.cfg.num_beams,
                                     **kw)
            out += tok.batch_decode(ids, skip_special_tokens=True)
        return out
