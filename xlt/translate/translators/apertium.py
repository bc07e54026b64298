"""Apertium: rule-based machine translation, offline, through the installed `apertium` command and its
Debian language-pair packages (Forcada et al., 2011).

Apertium marks words it could not translate (`*word`, `@lemma`, `#form`); `-u` drops the first kind and
the others are stripped here, so the output is plain text. Serbo-Croatian is one Apertium language
(hbs): Croatian, Serbian and Bosnian are its variants, and Cyrillic input is transliterated to Latin with
the pair's own transducer first. `scripts: {srp: Cyrl}` writes Serbian output in Cyrillic."""
from __future__ import annotations

import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Literal

from xlt.errors import XltError
from xlt.translate import TRANSLATORS
from xlt.translate.translators.base import Translator, TranslatorConfig

MODES_DIR = Path("/usr/share/apertium/modes")
# (from, to) -> (Apertium mode, Debian package that installs it): the English pairs Debian ships
PAIRS: dict[tuple[str, str], tuple[str, str]] = {
    ("eng", "spa"): ("eng-spa", "apertium-eng-spa"), ("spa", "eng"): ("spa-eng", "apertium-eng-spa"),
    ("eng", "cat"): ("eng-cat", "apertium-eng-cat"), ("cat", "eng"): ("cat-eng", "apertium-eng-cat"),
    ("eng", "glg"): ("en-gl", "apertium-en-gl"), ("glg", "eng"): ("gl-en", "apertium-en-gl"),
    ("eng", "epo"): ("en-eo", "apertium-eo-en"), ("epo", "eng"): ("eo-en", "apertium-eo-en"),
    ("eus", "eng"): ("eu-en", "apertium-eu-en"),
    ("isl", "eng"): ("isl-eng", "apertium-isl-eng"),
    ("mkd", "eng"): ("mkd-eng", "apertium-mkd-eng"),
    ("eng", "hrv"): ("eng-hbs_HR", "apertium-hbs-eng"), ("hrv", "eng"): ("hbs-eng", "apertium-hbs-eng"),
    ("eng", "srp"): ("eng-hbs_SR", "apertium-hbs-eng"), ("srp", "eng"): ("hbs-eng", "apertium-hbs-eng"),
    ("eng", "bos"): ("eng-hbs_BS", "apertium-hbs-eng"), ("bos", "eng"): ("hbs-eng", "apertium-hbs-eng"),
}
CYRILLIC = re.compile(r"[\u0400-\u04ff]")
MARKS = re.compile(r"(?<![\w])[#@*](?=\w)")
# Serbian Latin -> Cyrillic (Vuk's alphabet; the digraphs first)
_SR_DIGRAPHS = {"lj": "љ", "nj": "њ", "dž": "џ", "Lj": "Љ", "Nj": "Њ", "Dž": "Џ", "LJ": "Љ", "NJ": "Њ", "DŽ": "Џ"}
_SR_LETTERS = dict(zip("abvgdđežzijklmnoprstćufhcčšABVGDĐEŽZIJKLMNOPRSTĆUFHCČŠ",
                       "абвгдђежзијклмнопрстћуфхцчшАБВГДЂЕЖЗИЈКЛМНОПРСТЋУФХЦЧШ"))
_SR_RE = re.compile("|".join(sorted(_SR_DIGRAPHS, key=len, reverse=True)) + "|.", re.S)


def latin_to_serbian_cyrillic(text: str) -> str:
    return _SR_RE.sub(lambda m: _SR_DIGRAPHS.get(m.group(0)) or _SR_LETTERS.get(m.group(0), m.group(0)), text)


class ApertiumConfig(TranslatorConfig):
    """The `apertium` command and its installed pairs (Debian: `apt-get install apertium apertium-eng-spa`...)."""

    name: Literal["apertium"] = "apertium"
    scripts: dict[str, Literal["Latn", "Cyrl"]] = {}
    """The script a language's output is written in where Apertium writes another: `{srp: Cyrl}`."""


@lru_cache(maxsize=1)
def _versions() -> dict[str, str]:
    """Debian package -> installed version (empty where dpkg-query is missing)."""
    if shutil.which("dpkg-query") is None:
        return {}
    res = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}\\n", "apertium*"], capture_output=True,
                         text=True)
    return dict(line.split(" ", 1) for line in res.stdout.splitlines() if " " in line)


@TRANSLATORS.register
class Apertium(Translator):
    name = "apertium"
    config = ApertiumConfig

    def pairs(self) -> list[tuple[str, str]]:
        if shutil.which("apertium") is None:
            return []
        return [p for p, (mode, _) in PAIRS.items() if (MODES_DIR / f"{mode}.mode").exists()]

    def missing_hint(self, src: str, tgt: str) -> str:
        if shutil.which("apertium") is None:
            return ("the `apertium` command is not installed (Debian/Ubuntu: apt-get install apertium "
                    f"{PAIRS.get((src, tgt), ('', 'apertium-<pair>'))[1]}); ")
        if (src, tgt) in PAIRS:
            return f"install its Debian package {PAIRS[(src, tgt)][1]} (apt-get install {PAIRS[(src, tgt)][1]}); "
        return "Apertium has no Debian package for it; "

    def version(self, src: str, tgt: str) -> str:
        v = _versions()
        return ";".join(f"{p}={v.get(p, '?')}" for p in ("apertium", PAIRS[(src, tgt)][1]))

    def translate(self, texts: list[str], src: str, tgt: str) -> list[str]:
        mode = PAIRS[(src, tgt)][0]
        lines = [" ".join(t.split()) for t in texts]  # one text per line: newlines inside a text become spaces
        if mode == "hbs-eng" and any(CYRILLIC.search(t) for t in lines):
            lines = _run("Cyrl-Latn", lines, plain=False)
        out = [MARKS.sub("", line) for line in _run(mode, lines)]
        if self.cfg.scripts.get(tgt) == "Cyrl" and tgt == "srp":
            out = [latin_to_serbian_cyrillic(t) for t in out]
        return out


def _run(mode: str, lines: list[str], plain: bool = True) -> list[str]:
    """Lines through one Apertium mode; a blank line between texts keeps them apart (Apertium may join
    or split lines inside a paragraph)."""
    cmd = ["apertium", *(["-u"] if plain else []), mode] if plain else ["apertium", mode]
    text = "\n\n".join(line or "." for line in lines) + "\n"
    res = subprocess.run(cmd, input=text, capture_output=True, text=True)
    if res.returncode != 0:
        raise XltError(f"apertium {mode} failed: {res.stderr.strip()[-400:]}")
    out = [" ".join(p.split()) for p in res.stdout.strip("\n").split("\n\n")]
    if len(out) != len(lines):
        raise XltError(f"apertium {mode} returned {len(out)} texts for {len(lines)}; a text may hold a blank line")
    return [o if line else "" for o, line in zip(out, lines)]
