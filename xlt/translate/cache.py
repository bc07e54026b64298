"""The translation cache: SQLite, keyed by translator, version, direction and text, so a text is translated
once. Concurrent writers are safe (SQLite's own locking, WAL journal); a crash loses at most the batch in
flight. Statistics are counted per `translate` call and per cache object, for run records and reports."""
from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from xlt.errors import XltError

BATCH = 256  # texts sent to an engine at once, and committed together


@dataclass
class CacheStats:
    texts: int = 0  # texts asked for
    hits: int = 0  # of which found in the cache
    translated: int = 0  # of which translated now
    seconds: float = 0.0  # spent translating (cache reads not counted)

    def add(self, other: "CacheStats") -> None:
        self.texts += other.texts
        self.hits += other.hits
        self.translated += other.translated
        self.seconds += other.seconds

    def as_dict(self) -> dict:
        rate = self.translated / self.seconds if self.seconds > 0 else None
        return {"texts": self.texts, "cache_hits": self.hits, "translated": self.translated,
                "translate_seconds": round(self.seconds, 3),
                "texts_per_second": round(rate, 1) if rate is not None else None}


def default_path() -> Path:
    from xlt.models.embedded import cache_root

    return cache_root() / "translations.sqlite"


@dataclass
class TranslationCache:
    path: Path = field(default_factory=default_path)
    stats: CacheStats = field(default_factory=CacheStats)

    def __post_init__(self):
        self.path = Path(self.path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.con = sqlite3.connect(self.path, timeout=60, check_same_thread=False)  # one lock below
            self.con.execute("PRAGMA journal_mode=WAL")
            self.con.execute("CREATE TABLE IF NOT EXISTS translations (translator TEXT, version TEXT, src TEXT, "
                             "tgt TEXT, digest TEXT, translation TEXT, PRIMARY KEY (translator, version, src, tgt, "
                             "digest))")
        except sqlite3.DatabaseError as exc:
            raise XltError(f"the translation cache {self.path} cannot be opened ({exc}); delete it (it holds only "
                           "translations, made again on demand) or give translation.cache another path") from None

    def translate(self, translator, texts: list[str], src: str, tgt: str) -> list[str]:
        """Each text's translation, from the cache where it is there, else from `translator` (then stored).
        Safe from several threads (a server's)."""
        with self._lock:
            return self._translate(translator, texts, src, tgt)

    def _translate(self, translator, texts: list[str], src: str, tgt: str) -> list[str]:
        translator.check_pair(src, tgt)
        name, version = translator.name, translator.version(src, tgt)
        digests = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
        found: dict[str, str] = {}
        unique = list(dict.fromkeys(digests))
        for i in range(0, len(unique), 500):
            chunk = unique[i:i + 500]
            rows = self.con.execute(
                f"SELECT digest, translation FROM translations WHERE translator=? AND version=? AND src=? AND tgt=? "
                f"AND digest IN ({','.join('?' * len(chunk))})", (name, version, src, tgt, *chunk)).fetchall()
            found.update(rows)
        todo = list(dict.fromkeys(t for t, d in zip(texts, digests) if d not in found))
        stats = CacheStats(texts=len(texts), hits=sum(d in found for d in digests))
        for i in range(0, len(todo), BATCH):
            batch = todo[i:i + BATCH]
            t0 = time.perf_counter()
            out = translator.translate(batch, src, tgt)
            stats.seconds += time.perf_counter() - t0
            if len(out) != len(batch):
                raise XltError(f"translator {name} returned {len(out)} translations for {len(batch)} texts")
            rows = [(name, version, src, tgt, hashlib.sha256(t.encode()).hexdigest(), o) for t, o in zip(batch, out)]
            with self.con:
                self.con.executemany("INSERT OR REPLACE INTO translations VALUES (?, ?, ?, ?, ?, ?)", rows)
            found.update((r[4], r[5]) for r in rows)
        stats.translated = len(todo)
        self.stats.add(stats)
        return [found[d] for d in digests]

    def close(self) -> None:
        self.con.close()
