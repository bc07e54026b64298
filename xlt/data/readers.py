"""Readers for tabular files: CSV and TSV (quote-aware), JSONL and XLSX, into Examples.

Every problem (missing file or column, bad encoding, empty file, unknown label) is one XltError
that names the file and says how to fix it.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from xlt.data.examples import Example
from xlt.errors import XltError
from xlt.files import missing_file, read_utf8

FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl", ".xlsx": "xlsx"}


def read_records(path: str | Path, fmt: str | None = None) -> list[dict]:
    """Rows of a file as dicts keyed by column name. The reader states the shape it expects and refuses what
    does not fit, naming the file and line: a row with another number of fields than the header, a quote
    never closed, a repeated column name, a NUL byte."""
    path = Path(path)
    if not path.exists():
        raise missing_file(path)
    if path.is_dir():
        raise XltError(f"{path} is a directory; give the data file inside it")
    fmt = fmt or FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise XltError(f"cannot tell the format of {path}; set format: csv, tsv, jsonl or xlsx")
    if path.stat().st_size == 0:
        raise XltError(f"data file is empty: {path}")
    if fmt == "xlsx":
        return _read_xlsx(path)
    text = read_utf8(path)
    refuse_nul(text, path)
    rows = _read_jsonl(text, path) if fmt == "jsonl" else _read_delimited(text, path, "\t" if fmt == "tsv" else ",")
    if not rows:
        raise XltError(f"data file has no rows: {path}")
    return rows


def refuse_nul(text: str, path: Path) -> None:
    """NUL bytes are refused, not stripped: in a text file they mean a binary or damaged file."""
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise XltError(f"{path}:{line}: a NUL byte (\\x00) in the text: the file is binary or damaged; "
                       "re-save it as plain UTF-8 text")


def _read_jsonl(text: str, path: Path) -> list[dict]:
    rows = []
    for i, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise XltError(f"{path}:{i}: invalid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise XltError(f"{path}:{i}: a JSON {type(row).__name__}, not an object; write one "
                               '{"column": value, ...} object per line')
            rows.append(row)
    return rows


def _read_delimited(text: str, path: Path, delimiter: str) -> list[dict]:
    """CSV or TSV, quote-aware: every row has the header's number of fields."""
    csv.field_size_limit(1 << 30)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    sep = "a tab" if delimiter == "\t" else "a comma"
    start = 1  # the line the current record starts on (a quoted field may span lines)
    try:
        header = next(reader, None)
        if header is None or not any(h.strip() for h in header):
            raise XltError(f"data file has no header row: {path}")
        repeated = sorted({h for h in header if header.count(h) > 1})
        if repeated:
            raise XltError(f"{path}:1: column name(s) {repeated} appear more than once in the header; "
                           "give every column its own name")
        rows, start = [], reader.line_num + 1
        for fields in reader:
            if any(f.strip() for f in fields):
                if len(fields) != len(header):
                    raise XltError(f"{path}:{start}: {len(fields)} fields where the header has {len(header)} "
                                   f"({', '.join(header)}); a field that contains {sep} must be quoted")
                rows.append(dict(zip(header, fields)))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise XltError(f"{path}:{start}: a quoted field that starts on this line is never closed ({exc}); "
                       'close the quote, or write a quote inside a field as ""') from None
    return rows


def _read_xlsx(path: Path) -> list[dict]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise XltError(f"cannot open {path} as an Excel file ({exc})") from None
    ws = wb.worksheets[0]
    it = ws.iter_rows(values_only=True)
    header = [str(h) if h is not None else "" for h in next(it, [])]
    repeated = sorted({h for h in header if h and header.count(h) > 1})
    if repeated:
        wb.close()
        raise XltError(f"{path}: column name(s) {repeated} appear more than once in the header row; "
                       "give every column its own name")
    rows = [dict(zip(header, r)) for r in it if any(v is not None and str(v).strip() for v in r)]
    wb.close()
    if not rows:
        raise XltError(f"data file has no rows: {path}")
    return rows


def records_to_examples(rows: list[dict], path: str | Path, text: str | list[str], label: str,
                        text_pair: str | None = None) -> list[Example]:
    """Map columns to Examples (labels as written; xlt/data/pipeline.py maps them)."""
    columns = list(rows[0].keys())
    text_cols = [text] if isinstance(text, str) else list(text)
    for role, col in [("text", c) for c in text_cols] + [("label", label), ("text_pair", text_pair)]:
        if col is not None and col not in columns:
            raise XltError(f"{path}: no column {col!r} for {role}; columns are {columns}")
    out = []
    for r in rows:
        raw = r.get(label)
        if raw is None or str(raw).strip() == "":
            continue  # unlabelled row (e.g. a stray trailing record): not an example
        lab = _label_str(raw)
        t = " ".join(str(r[c]).strip() for c in text_cols if r.get(c) is not None)
        p = None if text_pair is None else ("" if r.get(text_pair) is None else str(r[text_pair]))
        out.append(Example(t, lab, p))
    if not out:
        raise XltError(f"{path}: no labelled rows in column {label!r}")
    return out


def _label_str(v) -> str:
    """Normalise labels: 1.0 -> '1', ' Pos ' -> 'Pos'."""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip()
