"""Language identification and speech for the language-processing page: py3langid's bundled model (Lui and
Baldwin, 2012; 97 languages, nothing downloaded) and the `espeak-ng` speech synthesiser (WAV)."""
from __future__ import annotations

import shutil
import subprocess
from functools import lru_cache

from xlt.errors import XltError


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)


def iso3(code: str) -> str:
    """ISO 639-1 ("es") -> ISO 639-3 ("spa"), as xlt names languages; codes it does not know stay."""
    import pycountry

    lang = pycountry.languages.get(alpha_2=code) if len(code) == 2 else None
    return lang.alpha_3 if lang is not None else code


def language_name(code: str) -> str:
    import pycountry

    lang = pycountry.languages.get(alpha_3=code) or (pycountry.languages.get(alpha_2=code) if len(code) == 2 else None)
    return lang.name if lang is not None else code


def detect(text: str) -> dict:
    """{"code": ISO 639-3, "name": ..., "confidence": 0..1}."""
    code, prob = _identifier().classify(text)
    return {"code": iso3(code), "name": language_name(code), "confidence": round(float(prob), 3)}


def _voice(code: str) -> str:
    """The espeak-ng voice for an ISO 639-3 code (espeak-ng names most voices by ISO 639-1)."""
    import pycountry

    lang = pycountry.languages.get(alpha_3=code)
    return getattr(lang, "alpha_2", None) or code


def speak(text: str, language: str = "eng") -> bytes:
    """`text` spoken by espeak-ng, as WAV bytes (English's voice where the language has none)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise XltError("speech needs the espeak-ng command (Debian/Ubuntu: apt-get install espeak-ng)")
    for voice in dict.fromkeys([_voice(language), "en"]):
        res = subprocess.run([exe, "-v", voice, "--stdout", text], capture_output=True, timeout=60)
        if res.returncode == 0 and res.stdout[:4] == b"RIFF":
            return res.stdout
    raise XltError(f"espeak-ng could not speak this text: {res.stderr.decode(errors='replace').strip()[-200:]}")
