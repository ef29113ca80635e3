"""An on-disk hnswlib index: of chunk vectors (``vectors.hnsw``) or of document vectors
(``documents.hnsw``).

SQLite is the source of truth: every chunk row (document vector row) carries its vector, and
the chunk (document) id is the hnswlib label. The index file is a cache of those vectors that can always be repaired: a
sidecar JSON records the database sequence number the file was saved at, and on open a
mismatch (a crash between commit and save) is repaired from SQLite: missing labels are added,
labels without a chunk are marked deleted. Saving writes a temporary file and renames it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

import numpy as np

SPACE = "ip"  # vectors are normalized: inner product == cosine; distance = 1 - cosine
M = 16
EF_CONSTRUCTION = 200
EF_SEARCH = 256
MIN_CAPACITY = 1024


class VectorIndex:
    def __init__(self, path: Path, dim: int) -> None:
        import hnswlib

        self.path = path
        self.meta_path = path.with_suffix(".json")
        self.dim = dim
        self.lock = threading.RLock()
        self.seq = -1
        self.deleted = 0
        self._index = hnswlib.Index(space=SPACE, dim=dim)
        loaded = False
        if path.exists() and self.meta_path.exists():
            try:
                meta = json.loads(self.meta_path.read_text())
                if meta.get("dim") == dim:
                    self._index.load_index(str(path), max_elements=0, allow_replace_deleted=False)
                    self.seq = int(meta.get("seq", -1))
                    self.deleted = int(meta.get("deleted", 0))
                    loaded = True
            except (OSError, RuntimeError, ValueError):
                self._index = hnswlib.Index(space=SPACE, dim=dim)
        if not loaded:
            self._index.init_index(max_elements=MIN_CAPACITY, ef_construction=EF_CONSTRUCTION, M=M)
            self.seq = -1
        self._index.set_ef(EF_SEARCH)

    # -- size ----------------------------------------------------------------------------
    @property
    def count(self) -> int:
        """Labels in the index, deleted ones included."""
        return int(self._index.get_current_count())

    @property
    def live(self) -> int:
        return self.count - self.deleted

    def labels(self) -> set[int]:
        return set(int(x) for x in self._index.get_ids_list())

    def _reserve(self, extra: int) -> None:
        need = self.count + extra
        cap = int(self._index.get_max_elements())
        if need > cap:
            self._index.resize_index(max(need, cap * 2, MIN_CAPACITY))

    # -- changes -------------------------------------------------------------------------
    def add(self, ids: Iterable[int], vectors: np.ndarray) -> None:
        ids = np.asarray(list(ids), dtype=np.int64)
        if len(ids) == 0:
            return
        with self.lock:
            self._reserve(len(ids))
            self._index.add_items(vectors, ids, num_threads=1)

    def delete(self, ids: Iterable[int]) -> None:
        with self.lock:
            for i in ids:
                try:
                    self._index.mark_deleted(int(i))
                    self.deleted += 1
                except RuntimeError:  # unknown or already deleted
                    pass

    def query(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        with self.lock:
            n = self.live
            if n <= 0:
                return []
            k = min(k, n)
            self._index.set_ef(max(EF_SEARCH, k))
            try:
                labels, dists = self._index.knn_query(vector.reshape(1, -1), k=k, num_threads=1)
            except RuntimeError:  # fewer reachable live elements than k
                return []
        return [(int(lab), 1.0 - float(d)) for lab, d in zip(labels[0], dists[0], strict=True)]

    def repair_from(self, con: sqlite3.Connection, ids_sql: str, rows_sql: str) -> None:
        """Make the labels those of ``ids_sql``'s rows: mark the others deleted and add the
        missing ones' vectors, read by ``rows_sql`` (``(id, vector)`` rows, ``{marks}`` for
        the id placeholders)."""
        db_ids = {r[0] for r in con.execute(ids_sql)}
        labels = self.labels()
        self.delete(labels - db_ids)
        missing = sorted(db_ids - labels)
        for i in range(0, len(missing), 5000):
            part = missing[i : i + 5000]
            rows = con.execute(rows_sql.format(marks=",".join("?" * len(part))), part).fetchall()
            self.add([r[0] for r in rows],
                     np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows]))

    def save(self, seq: int) -> None:
        with self.lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            self._index.save_index(str(tmp))
            _fsync(tmp)
            os.replace(tmp, self.path)
            meta_tmp = self.meta_path.with_suffix(".json.tmp")
            meta_tmp.write_text(json.dumps({"dim": self.dim, "seq": seq, "deleted": self.deleted,
                                            "count": self.count}))
            _fsync(meta_tmp)
            os.replace(meta_tmp, self.meta_path)
            self.seq = seq

    def reset(self, capacity: int) -> None:
        import hnswlib

        with self.lock:
            self._index = hnswlib.Index(space=SPACE, dim=self.dim)
            self._index.init_index(max_elements=max(capacity, MIN_CAPACITY),
                                   ef_construction=EF_CONSTRUCTION, M=M)
            self._index.set_ef(EF_SEARCH)
            self.deleted = 0
            self.seq = -1


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
