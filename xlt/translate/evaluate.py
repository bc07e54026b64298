"""Scoring translators on a parallel set with sacrebleu (Post, 2018): BLEU, chrF and chrF++ with their
signatures, beside two reference rows: copying the input unchanged (what a translator must beat) and
word-by-word dictionary translation where a lexicon exists for the pair."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from xlt.data import registry
from xlt.errors import XltError
from xlt.files import read_utf8

LASER = "https://raw.githubusercontent.com/facebookresearch/LASER/74bc6ae7ffb7cba670fe0f428d0ede9f666fb821/data/tatoeba/v1"
TATOEBA_LANGS = (
    "afr amh ang ara arq arz ast awa aze bel ben ber bos bre bul cat cbk ceb ces cha cmn cor csb cym dan deu dsb dtp "
    "ell epo est eus fao fin fra fry gla gle glg gsw heb hin hrv hsb hun hye ido ile ina ind isl ita jav jpn kab kat "
    "kaz khm kor kur kzj lat lfn lit lvs mal mar max mhr mkd mon nds nld nno nob nov oci orv pam pes pms pol por ron "
    "rus slk slv spa sqi srp swe swg swh tam tat tel tgl tha tuk tur tzl uig ukr urd uzb vie war wuu xho yid yue zsm"
).split()
TATOEBA = registry.DatasetSpec(
    name="tatoeba", folder="tatoeba", base_url=LASER,
    files={"other": "tatoeba.{lang}-eng.{lang}", "eng": "tatoeba.{lang}-eng.eng"},
    languages={code: code for code in TATOEBA_LANGS}, text="", label="",
    citation="Artetxe and Schwenk 2019 (LASER's Tatoeba test sets)", licence="Tatoeba terms of use (CC BY 2.0 FR)")
ALIASES = {"swa": "swh"}  # xlt's Swahili code -> Tatoeba's


@dataclass
class Score:
    system: str
    bleu: float
    chrf: float
    chrf_pp: float
    signatures: dict[str, str]

    def as_dict(self) -> dict:
        return {"system": self.system, "bleu": round(self.bleu, 2), "chrf": round(self.chrf, 2),
                "chrf++": round(self.chrf_pp, 2), "signatures": self.signatures}


def tatoeba(lang: str, data_dir: str | None = None) -> tuple[list[str], list[str]]:
    """(sentences in `lang`, their English translations) of LASER's Tatoeba test set."""
    code = ALIASES.get(lang, lang)
    if code not in TATOEBA.languages:
        raise XltError(f"Tatoeba has no {lang!r}; it pairs English with {len(TATOEBA_LANGS)} languages "
                       f"({', '.join(TATOEBA_LANGS[:12])}, ...)")
    paths = registry.locate(TATOEBA, code, registry.data_dir(data_dir))
    return read_lines(paths["other"]), read_lines(paths["eng"])


def read_lines(path: Path) -> list[str]:
    """One segment per line (a final newline does not make an empty segment)."""
    path = Path(path)
    if not path.is_file():
        raise XltError(f"file not found: {path}")
    return read_utf8(path).rstrip("\n").split("\n") if path.stat().st_size else []


def score(system: str, hypotheses: list[str], references: list[str]) -> Score:
    from sacrebleu.metrics import BLEU, CHRF

    if len(hypotheses) != len(references):
        raise XltError(f"{system}: {len(hypotheses)} hypothesis lines but {len(references)} reference lines; "
                       "line i of each file must be the same segment")
    if not references:
        raise XltError("no segments to score: the reference is empty")
    refs = [references]
    metrics = {"bleu": BLEU(), "chrf": CHRF(), "chrf++": CHRF(word_order=2)}
    values = {name: m.corpus_score(hypotheses, refs).score for name, m in metrics.items()}
    return Score(system, values["bleu"], values["chrf"], values["chrf++"],
                 {name: str(m.get_signature()) for name, m in metrics.items()})


def named_lexicon(lang: str) -> dict | None:
    """A lexicon in the data mirror that pairs English with `lang` (the dictionary reference row)."""
    from xlt.data.lexicons import DICTIONARIES

    for name, (spec, _) in DICTIONARIES.items():
        if lang in spec.languages:
            return {"dictionary": name, "language": lang}
    return None


def evaluate(translators: list, sources: list[str], references: list[str], src: str, tgt: str, cache,
             data_dir: str | None = None, reference_rows: bool = True) -> list[Score]:
    """Every translator scored on (sources -> references), after the copy baseline and, where a lexicon
    pairs the languages, the dictionary translator."""
    from xlt.translate import make_translator

    if len(sources) != len(references):
        raise XltError(f"{len(sources)} source lines but {len(references)} reference lines; line i of each file "
                       "must be the same segment")
    rows = [score("copy input (baseline)", sources, references)] if reference_rows else []
    systems = list(translators)
    other = tgt if src == "eng" else src if tgt == "eng" else None
    lexicon = named_lexicon(other) if other and reference_rows else None
    if lexicon and not any(t.name == "dictionary" for t in systems):
        systems.insert(0, make_translator("dictionary", data_dir, lexicons=[lexicon]))
    for t in systems:
        rows.append(score(t.label(), cache.translate(t, sources, src, tgt), references))
    return rows
