"""State in SQLite: one file under the run command's data folder (survives a restart), or memory.

Every object is one JSON document keyed by its Stripe id; fields starting with ``_`` are the
stand-in's own bookkeeping and never leave it. The app calls the store only from its event loop
and never awaits inside an operation, so each operation is atomic without locks; ``transaction``
makes it atomic on disk too.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS objects_type ON objects (type, seq);
CREATE TABLE IF NOT EXISTS idempotency (
    api_key TEXT NOT NULL,
    key TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    params TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    request_id TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (api_key, key)
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    state TEXT NOT NULL,          -- held (chaos), inline (before_response), pending, delivered, abandoned
    due REAL NOT NULL,
    created REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_status INTEGER,
    last_error TEXT,
    delivered_at REAL
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, endpoint, due, id);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    at REAL NOT NULL,
    status INTEGER,
    error TEXT,
    seconds REAL NOT NULL
);
"""

IDEMPOTENCY_SECONDS = 24 * 3600


class Store:
    def __init__(self, path: str | None = None) -> None:
        self.connection = sqlite3.connect(path or ":memory:", isolation_level=None, check_same_thread=False)
        self.connection.row_factory = sqlite3.Row
        if path:
            self.connection.execute("PRAGMA journal_mode=WAL")
            self.connection.execute("PRAGMA synchronous=NORMAL")
        self.connection.executescript(SCHEMA)
        self._depth = 0

    def close(self) -> None:
        self.connection.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Nested uses join the outermost transaction."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.connection.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        else:
            self.connection.execute("COMMIT")
        finally:
            self._depth = 0

    # -- objects -------------------------------------------------------------------------------

    def insert(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.connection.execute(
            "INSERT INTO objects (id, type, data) VALUES (?, ?, ?)", (obj["id"], obj["object"], json.dumps(obj))
        )
        return obj

    def save(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.connection.execute("UPDATE objects SET data = ? WHERE id = ?", (json.dumps(obj), obj["id"]))
        return obj

    def get(self, object_id: str, kind: str | None = None) -> dict[str, Any] | None:
        row = self.connection.execute("SELECT type, data FROM objects WHERE id = ?", (object_id,)).fetchone()
        if row is None or (kind is not None and row["type"] != kind):
            return None
        obj: dict[str, Any] = json.loads(row["data"])
        return obj

    def seq_of(self, object_id: str, kind: str) -> int | None:
        row = self.connection.execute("SELECT seq FROM objects WHERE id = ? AND type = ?", (object_id, kind)).fetchone()
        return None if row is None else int(row["seq"])

    def page(
        self,
        kind: str,
        filters: dict[str, Any],
        limit: int,
        starting_after: int | None = None,
        ending_before: int | None = None,
    ) -> tuple[list[dict[str, Any]], bool]:
        """Newest first, like Stripe's lists; ``filters`` compare top-level JSON fields."""
        where: list[str] = ["type = ?"]
        args: list[Any] = [kind]
        for name, value in filters.items():
            where.append(f"json_extract(data, '$.{name}') = ?")
            args.append(value)
        return self._cursor_page("objects", where, args, limit, starting_after, ending_before)

    def all_of(self, kind: str, filters: dict[str, Any]) -> list[dict[str, Any]]:
        items, _ = self.page(kind, filters, limit=1_000_000)
        return items

    # -- idempotency ---------------------------------------------------------------------------

    def idempotent_result(self, api_key: str, key: str) -> sqlite3.Row | None:
        self.connection.execute("DELETE FROM idempotency WHERE created < ?", (time.time() - IDEMPOTENCY_SECONDS,))
        row: sqlite3.Row | None = self.connection.execute(
            "SELECT * FROM idempotency WHERE api_key = ? AND key = ?", (api_key, key)
        ).fetchone()
        return row

    def save_idempotent_result(
        self, api_key: str, key: str, method: str, path: str, params: str, status: int, body: str, request_id: str
    ) -> None:
        self.connection.execute(
            "INSERT OR REPLACE INTO idempotency VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (api_key, key, method, path, params, status, body, request_id, time.time()),
        )

    # -- events and their deliveries -----------------------------------------------------------

    def add_event(self, event: dict[str, Any], endpoint: str) -> None:
        self.connection.execute(
            "INSERT INTO events (id, type, endpoint, data) VALUES (?, ?, ?, ?)",
            (event["id"], event["type"], endpoint, json.dumps(event)),
        )

    def event(self, event_id: str) -> tuple[dict[str, Any], str] | None:
        row = self.connection.execute("SELECT data, endpoint FROM events WHERE id = ?", (event_id,)).fetchone()
        return None if row is None else (json.loads(row["data"]), row["endpoint"])

    def events(self, type_: str | None = None, limit: int = 100) -> list[tuple[dict[str, Any], str]]:
        if type_:
            rows = self.connection.execute(
                "SELECT data, endpoint FROM events WHERE type = ? ORDER BY seq DESC LIMIT ?", (type_, limit)
            ).fetchall()
        else:
            rows = self.connection.execute("SELECT data, endpoint FROM events ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
        return [(json.loads(row["data"]), row["endpoint"]) for row in rows]

    def event_seq(self, event_id: str) -> int | None:
        row = self.connection.execute("SELECT seq FROM events WHERE id = ?", (event_id,)).fetchone()
        return None if row is None else int(row["seq"])

    def events_page(
        self, type_: str | None, limit: int, starting_after: int | None, ending_before: int | None
    ) -> tuple[list[dict[str, Any]], bool]:
        where: list[str] = ["1=1"]
        args: list[Any] = []
        if type_:
            if type_.endswith(".*"):
                where.append("type LIKE ?")
                args.append(type_[:-1] + "%")
            else:
                where.append("type = ?")
                args.append(type_)
        return self._cursor_page("events", where, args, limit, starting_after, ending_before)

    def _cursor_page(
        self,
        table: str,
        where: list[str],
        args: list[Any],
        limit: int,
        starting_after: int | None,
        ending_before: int | None,
    ) -> tuple[list[dict[str, Any]], bool]:
        """One page of a Stripe list, newest first, and whether more follow. The cursors are row
        sequence numbers: ``ending_before`` alone pages backwards (read ascending, then reversed)."""
        where = list(where)
        args = list(args)
        if starting_after is not None:
            where.append("seq < ?")
            args.append(starting_after)
        if ending_before is not None:
            where.append("seq > ?")
            args.append(ending_before)
        order = "ASC" if ending_before is not None and starting_after is None else "DESC"
        rows = self.connection.execute(
            f"SELECT data FROM {table} WHERE {' AND '.join(where)} ORDER BY seq {order} LIMIT ?", (*args, limit + 1)
        ).fetchall()
        items = [json.loads(row["data"]) for row in rows[:limit]]
        if order == "ASC":
            items.reverse()
        return items, len(rows) > limit

    def add_delivery(self, event_id: str, endpoint: str, state: str, due: float) -> int:
        cursor = self.connection.execute(
            "INSERT INTO deliveries (event_id, endpoint, state, due, created) VALUES (?, ?, ?, ?, ?)",
            (event_id, endpoint, state, due, time.time()),
        )
        return int(cursor.lastrowid or 0)

    def next_due(self, endpoint: str, now: float) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.connection.execute(
            "SELECT * FROM deliveries WHERE state = 'pending' AND endpoint = ? AND due <= ? ORDER BY due, id LIMIT 1",
            (endpoint, now),
        ).fetchone()
        return row

    def earliest_due(self, endpoint: str) -> float | None:
        row = self.connection.execute(
            "SELECT MIN(due) AS due FROM deliveries WHERE state = 'pending' AND endpoint = ?", (endpoint,)
        ).fetchone()
        return None if row is None or row["due"] is None else float(row["due"])

    def delivery(self, delivery_id: int) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.connection.execute("SELECT * FROM deliveries WHERE id = ?", (delivery_id,)).fetchone()
        return row

    def requeue_inline(self, now: float) -> None:
        with self.transaction():
            self.connection.execute("UPDATE deliveries SET state = 'pending', due = ? WHERE state = 'inline'", (now,))

    def held(self) -> list[sqlite3.Row]:
        return self.connection.execute("SELECT * FROM deliveries WHERE state = 'held' ORDER BY id").fetchall()

    def release(self, delivery_id: int, due: float) -> None:
        self.connection.execute("UPDATE deliveries SET state = 'pending', due = ? WHERE id = ?", (due, delivery_id))

    def record_attempt(
        self, delivery: sqlite3.Row, status: int | None, error: str | None, seconds: float, next_due: float | None,
        give_up: bool,
    ) -> None:
        now = time.time()
        delivered = status is not None and 200 <= status < 300
        state = "delivered" if delivered else ("abandoned" if give_up else "pending")
        with self.transaction():
            self.connection.execute(
                "INSERT INTO attempts (delivery_id, event_id, endpoint, at, status, error, seconds) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (delivery["id"], delivery["event_id"], delivery["endpoint"], now, status, error, seconds),
            )
            self.connection.execute(
                "UPDATE deliveries SET state = ?, attempts = attempts + 1, last_status = ?, last_error = ?, due = ?, "
                "delivered_at = ? WHERE id = ?",
                (state, status, error, next_due if next_due is not None else delivery["due"], now if delivered else None,
                 delivery["id"]),
            )

    def deliveries(self, event_id: str | None = None) -> list[sqlite3.Row]:
        if event_id:
            return self.connection.execute("SELECT * FROM deliveries WHERE event_id = ? ORDER BY id", (event_id,)).fetchall()
        return self.connection.execute("SELECT * FROM deliveries ORDER BY id").fetchall()

    def attempts(self, event_id: str | None = None) -> list[sqlite3.Row]:
        if event_id:
            return self.connection.execute("SELECT * FROM attempts WHERE event_id = ? ORDER BY id", (event_id,)).fetchall()
        return self.connection.execute("SELECT * FROM attempts ORDER BY id").fetchall()

    def pending_count(self, event_id: str) -> int:
        row = self.connection.execute(
            "SELECT COUNT(*) AS n FROM deliveries WHERE event_id = ? AND state IN ('pending', 'held', 'inline')", (event_id,)
        ).fetchone()
        return int(row["n"])
