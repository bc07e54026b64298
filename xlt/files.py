"""Atomic file writes (a reader or a resumed run never sees a half-written file), and reading users' text files."""
from __future__ import annotations

import os
from pathlib import Path

from xlt.errors import XltError


def read_utf8(path: Path, keep_bom: bool = False) -> str:
    """A user's text file as UTF-8, or one error that says how to fix it. A byte-order mark is dropped
    unless `keep_bom` (the CoNLL reader reports it)."""
    try:
        return Path(path).read_text(encoding="utf-8" if keep_bom else "utf-8-sig")
    except UnicodeDecodeError as exc:
        raise XltError(f"{path} is not valid UTF-8 (byte {exc.start}); re-save it as UTF-8") from None


def atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def atomic_save_tensors(path: Path, tensors: dict) -> None:
    """safetensors file that exists only once complete (saved stages are what resumption trusts)."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp))
    os.replace(tmp, path)
