"""Atomic file writes (a reader or a resumed run never sees a half-written file), and reading users' text files."""
from __future__ import annotations

import os
from pathlib import Path

from xlt.errors import XltError


def missing_file(path: Path) -> XltError:
    """The error for a data file that is not there; a relative path says where it was looked for, since
    relative paths in a config are read from the current directory, not the config's folder."""
    where = "" if path.is_absolute() else f" (relative paths are read from the current directory, {Path.cwd()})"
    return XltError(f"data file not found: {path}{where}")


def read_utf8(path: Path, keep_bom: bool = False) -> str:
    """A user's text file as UTF-8, or one error that says how to fix it. A byte-order mark is dropped
    unless `keep_bom` (the CoNLL reader reports it)."""
    try:
        return Path(path).read_text(encoding="utf-8" if keep_bom else "utf-8-sig")
    except UnicodeDecodeError as exc:
        raise XltError(f"{path} is not valid UTF-8 (byte {exc.start}); re-save it as UTF-8") from None


def _atomic(path: Path, write) -> None:
    """`write(tmp)` then rename over `path`: the file exists whole or not at all; a failed write (a full disk)
    leaves no temporary file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str) -> None:
    _atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    _atomic(path, lambda tmp: tmp.write_bytes(data))


def atomic_save_tensors(path: Path, tensors: dict) -> None:
    """safetensors file that exists only once complete (saved stages are what resumption trusts)."""
    from safetensors.torch import save_file

    _atomic(path, lambda tmp: save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp)))


def load_saved_tensors(path: Path) -> dict:
    """A stage xlt saved, or one error naming the file to delete when it cannot be read (a copy cut short, a disk
    fault: xlt's own writes are atomic), so the stage is trained again on the next run."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as e:
        raise XltError(f"saved stage {path} cannot be read ({e}); delete it and its .json beside it, and run again "
                       "to train it anew") from None


def check_output_dir(out: Path) -> None:
    """That `out` can be created (if missing) and written, tried for real and undone: what it created is
    removed again, so a check leaves nothing behind."""
    import tempfile

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise XltError(f"output directory {out} is a file; give output.dir (or --output) a directory")
    missing = []
    for p in [out, *out.parents]:
        if p.exists():
            break
        missing.append(p)
    try:
        out.mkdir(parents=True, exist_ok=True)  # exist_ok: another run may be creating a shared parent now
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise XltError(f"output directory {out} cannot be created or written ({exc.strerror or exc}); choose "
                       "another output.dir (or --output)") from None
    finally:
        for p in missing:
            try:
                p.rmdir()
            except OSError:  # gone already, or another run has started writing in it: leave it
                pass


DISK_FULL = (28, 122)  # ENOSPC, EDQUOT


def disk_full(exc: BaseException) -> bool:
    """A write failed for lack of space: the OS said so, or SQLite did."""
    import sqlite3

    if isinstance(exc, OSError):
        return exc.errno in DISK_FULL
    return isinstance(exc, sqlite3.OperationalError) and "full" in str(exc)
