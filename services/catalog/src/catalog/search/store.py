"""Where a process keeps its search index between runs: a slot directory of its own.

``root`` (``CATALOG_SEARCH_INDEX_DIR``) holds numbered slots. A process takes the first slot whose
lock file it can lock (``flock``, exclusive, held until it stops), so no two processes ever use
the same index, while a process that restarts (or a worker of a restarted server) finds a slot
with an index in it again. A slot holds:

* ``index-<random>/``: the Tantivy index (a rebuild writes a new one beside it and switches);
* ``state.json``: which of those is current, the schema version it was built with, the database it
  projects, and the last change-log number applied (plus numbers skipped that might still commit,
  see ``catalog.search.changes.ChangeCursor``). Written after each index commit (write then
  rename), so it never claims more than the index holds: a crash between the two replays a few
  changes, which is harmless (a change replaces the product's document).

Anything the state does not name is a leftover of an interrupted rebuild and is removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

STATE_FILE = "state.json"
LOCK_FILE = "lock"
MAX_SLOTS = 64  # processes sharing one root (workers x replicas on one disk); a bound all the same


@dataclass(frozen=True)
class SavedState:
    schema_version: int
    database: str
    index: str  # the current index's directory name within the slot
    seq: int
    gaps: list[int] = field(default_factory=list)


class SlotsTaken(RuntimeError):
    pass


class IndexSlot:
    """One process's directory under ``root``, locked for as long as the process holds it."""

    def __init__(self, directory: Path, lock: IO[bytes]) -> None:
        self.directory = directory
        self._lock: IO[bytes] | None = lock

    @classmethod
    def acquire(cls, root: Path) -> IndexSlot:
        root.mkdir(parents=True, exist_ok=True)
        for number in range(MAX_SLOTS):
            directory = root / f"slot-{number}"
            directory.mkdir(exist_ok=True)
            lock = open(directory / LOCK_FILE, "ab")  # noqa: SIM115  (held until release)
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.close()
                continue
            return cls(directory, lock)
        raise SlotsTaken(f"all {MAX_SLOTS} search index slots under {root} are held by running processes")

    def release(self) -> None:
        if self._lock is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock.fileno(), fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def load(self) -> SavedState | None:
        """The saved state, or None when there is none or it cannot be read (then: rebuild)."""
        try:
            raw = json.loads((self.directory / STATE_FILE).read_text())
            state = SavedState(
                schema_version=int(raw["schema_version"]), database=str(raw["database"]), index=str(raw["index"]),
                seq=int(raw["seq"]), gaps=[int(g) for g in raw.get("gaps", [])],
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if "/" in state.index or not state.index.startswith("index-"):
            return None
        return state

    def save(self, state: SavedState) -> None:
        temporary = self.directory / f"{STATE_FILE}.tmp"
        with open(temporary, "w") as out:
            json.dump(asdict(state), out)
            out.flush()
            os.fsync(out.fileno())
        temporary.replace(self.directory / STATE_FILE)

    def new_index_directory(self) -> Path:
        path = self.directory / f"index-{uuid.uuid4().hex[:12]}"
        path.mkdir()
        return path

    def remove_others(self, keep: Path | None) -> None:
        """Remove every index directory but ``keep`` (leftovers of replaced or interrupted builds)."""
        for path in self.directory.glob("index-*"):
            if path != keep:
                shutil.rmtree(path, ignore_errors=True)
