"""The wardrobe inventory: an embedded SQLite database that scans append to.

WAL mode (a reader never blocks the scanner), a busy timeout (a second scanner
waits and retries instead of failing or corrupting), the schema version in
``PRAGMA user_version`` with migrations, and ``PRAGMA application_id`` so a
foreign or corrupt file is refused with a clear error and never overwritten.
Each item is committed as soon as it is recorded, so an interrupted scan keeps
everything it recorded. A damaged file (``PRAGMA integrity_check`` fails) is
refused before anything is written to it; reading commands open the file
read-only (SQLite's ``mode=ro``), so they work on a file or folder they cannot write.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from fmnistedge.errors import FmnistEdgeError

APPLICATION_ID = 0x464D4E45  # "FMNE"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 30.0
COLUMNS = ("id", "label", "class_index", "confidence", "first_seen", "model", "model_sha256", "source")
# SQLite's column types are affinities, not constraints: another tool (or a hand edit) can
# store a blob label or a text confidence, which would break printing and JSON export.
COLUMN_TYPES = {"label": ("text",), "class_index": ("integer",), "confidence": ("real", "integer"),
                "first_seen": ("text",), "model": ("text",), "model_sha256": ("text", "null"), "source": ("text",)}

MIGRATIONS = {
    1: """
    CREATE TABLE items (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        label TEXT NOT NULL,
        class_index INTEGER NOT NULL CHECK (class_index BETWEEN 0 AND 9),
        confidence REAL NOT NULL,
        first_seen TEXT NOT NULL,
        model TEXT NOT NULL,
        model_sha256 TEXT,
        source TEXT NOT NULL,
        thumbnail BLOB
    );
    CREATE INDEX items_label ON items (label);
    """,
}


class WardrobeError(FmnistEdgeError):
    """The wardrobe database cannot be used (foreign, corrupt, newer schema, locked)."""


def default_path() -> Path:
    base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "fmnistedge" / "wardrobe.db"


@dataclass
class Item:
    label: str
    class_index: int
    confidence: float
    model: str
    model_sha256: str | None
    source: str
    thumbnail: bytes | None = None
    first_seen: str | None = None
    id: int | None = None


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, "CSV Injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _csv_safe(value):
    """A text cell a spreadsheet would run as a formula (a source named
    ``=HYPERLINK(...)``, say) gets a leading single quote, as OWASP advises; numbers
    and other text are written as they are. JSON export is data, not a sheet: untouched."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def check_writable(path: Path | str | None) -> None:
    """Fail before a scan starts, not at its first record, when the wardrobe cannot be
    written: SQLite needs the file and its folder (for the WAL and shared-memory files),
    or, for a new wardrobe, the nearest folder that exists (to create the rest)."""
    path = Path(path) if path is not None else default_path()
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    for target in ([path] if path.exists() else []) + [folder]:
        if not os.access(target, os.W_OK):
            raise WardrobeError(f"Cannot write to the wardrobe {path}: {target} is read-only; "
                                "use --wardrobe to pick another file")


class Wardrobe:
    def __init__(self, path: Path | str | None = None, busy_timeout: float = BUSY_TIMEOUT_S,
                 readonly: bool = False) -> None:
        """Open (and if needed create and migrate) the wardrobe; ``readonly`` opens an
        existing one with SQLite's ``mode=ro``, which never creates, migrates or writes."""
        self.path = Path(path) if path is not None else default_path()
        self.readonly = readonly
        self.busy_timeout = busy_timeout
        try:
            if readonly:
                self.db = sqlite3.connect(self._read_only_uri(), uri=True, timeout=busy_timeout,
                                          isolation_level=None)
            else:
                check_writable(self.path)
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.db = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None)
            self._check_and_migrate()
        except sqlite3.DatabaseError as exc:
            raise WardrobeError(f"{self.path} is not a usable fmnistedge wardrobe ({exc}); "
                                "it was left untouched. Use --wardrobe to pick another file.") from None

    def _read_only_uri(self) -> str:
        """``mode=ro``, plus ``immutable=1`` when the folder is read-only and holds no WAL
        file: SQLite cannot create the shared-memory file a WAL reader needs there, and
        no process can be writing (a writer would need that WAL file)."""
        uri = f"file:{urllib.parse.quote(str(self.path.absolute()))}?mode=ro"
        wal = self.path.with_name(self.path.name + "-wal")
        if not os.access(self.path.absolute().parent, os.W_OK) and not wal.exists():
            uri += "&immutable=1"
        return uri

    def _header(self) -> tuple[int, int, int]:
        """(application_id, user_version, number of schema objects), read in one transaction:
        read one by one, another process creating the file could commit in between and
        make a half-read new wardrobe look like a foreign database."""
        self.db.execute("BEGIN")
        try:
            return (self.db.execute("PRAGMA application_id").fetchone()[0],
                    self.db.execute("PRAGMA user_version").fetchone()[0],
                    self.db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])
        finally:
            self.db.execute("COMMIT")

    def _check_and_migrate(self) -> None:
        app_id, version, tables = self._header()
        if app_id != APPLICATION_ID and (tables or app_id):
            raise WardrobeError(f"{self.path} is an SQLite database but not an fmnistedge wardrobe; "
                                "it was left untouched. Use --wardrobe to pick another file.")
        if version < 0:  # user_version is a signed 32-bit header field; fmnistedge writes 0..SCHEMA_VERSION
            raise WardrobeError(f"{self.path} has wardrobe schema {version}, which no fmnistedge writes: "
                                "damaged or not a wardrobe; it was left untouched. Use --wardrobe to pick another file.")
        if version > SCHEMA_VERSION:
            raise WardrobeError(f"{self.path} has wardrobe schema {version}, newer than this "
                                f"fmnistedge knows ({SCHEMA_VERSION}); upgrade fmnistedge")
        if tables:
            self._check_integrity()
        if self.readonly:
            if version < SCHEMA_VERSION:
                raise WardrobeError(f"{self.path} is not a wardrobe yet (schema {version}); "
                                    f"'fmnistedge scan --wardrobe {self.path}' makes it one")
            return
        self._enable_wal()
        # FULL (SQLite's usual default, set here whatever the build's default): in WAL mode
        # each commit syncs the WAL before add() returns, so an acknowledged item survives
        # a power cut as well as a killed process (NORMAL only guarantees the latter).
        self.db.execute("PRAGMA synchronous=FULL")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            self._migrate_to(target)

    def _enable_wal(self) -> None:
        """``PRAGMA journal_mode=WAL``, retried: while several processes open a new file
        at once, SQLite can answer "database is locked" at once, without waiting for its
        busy timeout (about one round in ten of six processes did, here), so the retries
        wait up to that timeout themselves."""
        import time

        deadline = time.monotonic() + self.busy_timeout
        delay = 0.002
        while True:
            try:
                self.db.execute("PRAGMA journal_mode=WAL").fetchall()
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay)
            delay = min(2 * delay, 0.1)

    def _check_integrity(self) -> None:
        """Refuse a damaged file before reading or writing it: a corrupt data page can hide
        from queries that only read an index (a count still says "10 items"), and
        writing into a damaged b-tree can spread the damage."""
        verdict = self.db.execute("PRAGMA integrity_check(1)").fetchone()[0]
        if verdict != "ok":  # "*** in database main ***" then the first problem found
            detail = [line for line in verdict.splitlines() if not line.startswith("***")] or [verdict]
            raise WardrobeError(f"{self.path} is damaged (PRAGMA integrity_check: {detail[0]}); "
                                "it was left untouched. Restore a backup or use --wardrobe to pick another file.")

    def _migrate_to(self, target: int) -> None:
        """Apply one migration under the write lock. Several processes may open a new
        file at once: all read version 0, one takes the lock and migrates, the others
        wait (busy timeout) and then find the work done, so the version is read again
        inside the transaction."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            if self.db.execute("PRAGMA user_version").fetchone()[0] < target:
                for statement in MIGRATIONS[target].split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(f"PRAGMA application_id={APPLICATION_ID}")
                self.db.execute(f"PRAGMA user_version={target}")
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def _execute(self, sql: str, params: tuple = ()):
        try:
            return self.db.execute(sql, params)
        except sqlite3.OperationalError as exc:  # locked past the busy timeout, disk full, ...
            raise WardrobeError(f"Cannot use {self.path}: {exc}") from None
        except sqlite3.DatabaseError as exc:  # damaged after it was opened
            raise WardrobeError(f"{self.path} is damaged ({exc}); stopped using it. "
                                "Restore a backup or use --wardrobe to pick another file.") from None

    def _rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Run a query and fetch its rows with the same error mapping as :meth:`_execute`:
        fetching is where a damaged page shows, and where Python fails on text that is
        not UTF-8 (sqlite3 raises OperationalError "Could not decode to UTF-8 column")."""
        cur = self._execute(sql, params)
        try:
            return cur.fetchall()
        except sqlite3.OperationalError as exc:
            if "decode" in str(exc):
                where = self._first_undecodable_item()
                fix = (f"remove it with 'fmnistedge wardrobe remove {where} --wardrobe {self.path}' or "
                       if where is not None else "")
                raise WardrobeError(f"{self.path}: {'item #%s' % where if where is not None else 'an item'} holds "
                                    f"text that is not UTF-8, which fmnistedge never writes (damaged, or written "
                                    f"by another tool); {fix}use --wardrobe to pick another file") from None
            raise WardrobeError(f"Cannot use {self.path}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise WardrobeError(f"{self.path} is damaged ({exc}); stopped using it. "
                                "Restore a backup or use --wardrobe to pick another file.") from None

    def _first_undecodable_item(self) -> int | None:
        try:
            for (item_id,) in self.db.execute("SELECT id FROM items ORDER BY id").fetchall():
                try:
                    self.db.execute(f"SELECT {', '.join(COLUMNS)} FROM items WHERE id = ?", (item_id,)).fetchall()
                except sqlite3.OperationalError:
                    return item_id
        except sqlite3.DatabaseError:
            pass
        return None

    def add(self, item: Item) -> int:
        """Record one item and commit it at once."""
        first_seen = item.first_seen or datetime.now(timezone.utc).isoformat(timespec="seconds")
        cur = self._execute(
            "INSERT INTO items (label, class_index, confidence, first_seen, model, model_sha256, source, thumbnail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (item.label, item.class_index, item.confidence, first_seen, item.model, item.model_sha256,
             item.source, item.thumbnail))
        return int(cur.lastrowid)

    def _check_values(self) -> None:
        """Refuse, in one line naming the item, a row whose values are not of the types
        fmnistedge writes (see :data:`COLUMN_TYPES`); ``remove`` can still delete it."""
        bad = " OR ".join(f"typeof({c}) NOT IN ({', '.join(repr(t) for t in types)})"
                          for c, types in COLUMN_TYPES.items())
        rows = self._rows(f"SELECT id, {', '.join(COLUMN_TYPES)} FROM items WHERE {bad} ORDER BY id LIMIT 1")
        if not rows:
            return
        row = rows[0]
        for column, value in zip(COLUMN_TYPES, row[1:]):
            kind = {bytes: "blob", str: "text", int: "integer", float: "real", type(None): "null"}[type(value)]
            if kind not in COLUMN_TYPES[column]:
                raise WardrobeError(f"{self.path}: item #{row[0]} has {column} {value!r:.40} ({kind}), which "
                                    "fmnistedge never writes; remove it with 'fmnistedge wardrobe remove "
                                    f"{row[0]} --wardrobe {self.path}' or use --wardrobe to pick another file")

    def items(self) -> list[dict]:
        self._check_values()
        rows = self._rows(f"SELECT {', '.join(COLUMNS)} FROM items ORDER BY id")
        return [dict(zip(COLUMNS, r)) for r in rows]

    def thumbnail(self, item_id: int) -> bytes | None:
        rows = self._rows("SELECT thumbnail FROM items WHERE id = ?", (item_id,))
        return rows[0][0] if rows else None

    def remove(self, item_id: int) -> bool:
        return self._execute("DELETE FROM items WHERE id = ?", (item_id,)).rowcount > 0

    def clear(self) -> int:
        return self._execute("DELETE FROM items").rowcount

    def stats(self) -> dict:
        self._check_values()
        rows = self._rows("SELECT label, count(*) FROM items GROUP BY label ORDER BY count(*) DESC, label")
        per_label = {label: n for label, n in rows}
        return {"items": sum(per_label.values()), "per_label": per_label}

    def export(self, fmt: str) -> str:
        items = self.items()
        if fmt == "json":
            return json.dumps(items, indent=2) + "\n"
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: _csv_safe(v) for k, v in it.items()} for it in items)
        return buf.getvalue()

    def close(self) -> None:
        self.db.close()


def open_existing(path: Path | str | None, write: bool = False, say=print) -> Wardrobe | None:
    """The wardrobe at ``path`` (default: the user's), read-only unless ``write``; None when
    the default one does not exist yet (said through ``say``). Only 'scan' creates a
    wardrobe: a ``--wardrobe`` file that does not exist is an error, not a new empty
    database (it is most likely a typo), and the default one is not created by looking at it."""
    if path is not None and not Path(path).exists():
        raise WardrobeError(f"No wardrobe at {path}; 'fmnistedge scan --wardrobe {path}' creates one")
    if path is None and not default_path().exists():
        message = f"No wardrobe yet at {default_path()}; 'fmnistedge scan' creates one"
        if write:
            raise WardrobeError(message)
        say(message)
        return None
    return Wardrobe(path, readonly=not write)
