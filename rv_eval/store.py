"""The results store: one folder per run.

    OUT/run.json                 schema.RunMeta; extra["cells"] = [[cell key, fingerprint], ...] in grid order
    OUT/cells/<cell-key>.parquet every sample of one model × task × seed (written atomically)
    OUT/index.sqlite             one row per stored cell (key, model, task, seed, fingerprint, counts)

The parquet files are the truth (each carries its fingerprint in its metadata); the SQLite index is
a queryable cache of them, rebuilt from the files whenever it disagrees (and rebuilt from scratch,
with a warning, when it is not a readable SQLite file). A cell file whose fingerprint differs from
the one the current grid expects is stale: it is never loaded, and the runner re-runs that cell.

Cell keys come from `grid.Cell.key`; a folder written before keys carried hashes still loads, since
run.json lists the keys its cells were stored under.

Unreadable cells: a cell file that cannot be parsed, fails its page checksums (written with every
cell), or whose columns do not have the sample schema's types (e.g. NaN or text in `correct`), is
never counted. Readers of the whole run (`load_samples`: results, report, stats) and the index skip
it with a warning naming the file, and the runner re-runs that cell; `Store.read_cell` and
`records(strict=True)`, used where every cell must be read (regrade), raise a `UserError` naming it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import asdict, astuple, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rv_eval import atomicio
from rv_eval.errors import UserError
from rv_eval.schema import (
    LATER_COLUMNS,
    SAMPLE_COLUMNS,
    SAMPLE_DTYPES,
    RunMeta,
    check_samples_frame,
    pd_missing,
)
from rv_eval.yamlio import brief

log = logging.getLogger(__name__)

RUN_JSON = "run.json"
CELLS_DIR = "cells"
INDEX_DB = "index.sqlite"
META_KEY = b"rv_eval.cell"
#: Columns kept in cell files beyond SAMPLE_COLUMNS (needed to regrade without regenerating).
EXTRA_COLUMNS = ["doc_json"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cells (
    key TEXT PRIMARY KEY, model TEXT, task TEXT, seed INTEGER, fingerprint TEXT,
    n_rows INTEGER, n_correct INTEGER, file_size INTEGER, file_mtime_ns INTEGER
)
"""


class CellError(UserError):
    """A stored cell file that cannot be read or does not have the sample schema."""


#: pyarrow type checks per SAMPLE_DTYPES dtype; a column of another type makes the cell unreadable.
_ARROW_KIND = {
    "string": lambda t: pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t),
    "int64": pa.types.is_integer,
    "float64": lambda t: pa.types.is_floating(t) or pa.types.is_integer(t) or pa.types.is_null(t),
    "bool": pa.types.is_boolean,
}
#: Columns that must hold a value in every row (a null `correct` would be counted as neither).
_NOT_NULL = ("correct", "seed", "sample_idx", "fold", "n_prompt_tokens", "n_gen_tokens")


@dataclass(frozen=True)
class CellRecord:
    """What the index knows about one stored cell."""

    key: str
    model: str
    task: str
    seed: int
    fingerprint: str
    n_rows: int
    n_correct: int
    file_size: int
    file_mtime_ns: int


class Store:
    """A results folder: run metadata, cell files, index."""

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self.cells_dir = self.out / CELLS_DIR

    # ---------------------------------------------------------------- run.json
    def write_run_meta(self, meta: RunMeta) -> None:
        """Write OUT/run.json atomically."""
        atomicio.write_json(self.out / RUN_JSON, asdict(meta))

    def check_results_folder(self) -> None:
        """Raise UserError unless OUT is an existing results folder (a folder holding run.json).

        Reads only: a missing folder is never created.
        """
        fix = "Fix: pass the `out` folder of an `rv-eval run` (the folder holding run.json), or run one first."
        if not self.out.exists():
            raise UserError(f"{self.out} does not exist, so it is not a results folder. {fix}")
        if not self.out.is_dir():
            raise UserError(f"{self.out} is a file, not a results folder. {fix}")
        if not (self.out / RUN_JSON).is_file():
            raise UserError(f"{self.out / RUN_JSON} not found: {self.out} is not a results folder. {fix}")

    def check_writable(self) -> None:
        """Raise UserError if OUT cannot be a results folder (it is a file, or lies under one); creates nothing."""
        atomicio.check_output_path(self.out, "folder")

    def read_run_meta(self) -> RunMeta:
        """Read OUT/run.json (UserError if OUT is not a results folder)."""
        self.check_results_folder()
        path = self.out / RUN_JSON
        try:
            return RunMeta(**json.loads(path.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, TypeError) as e:
            raise UserError(f"{path} is corrupt ({e}). Fix: re-run the grid into this folder.") from None

    def expected(self) -> dict[str, str]:
        """{cell key: fingerprint} the current grid expects (from run.json), in grid order."""
        cells = self.read_run_meta().extra.get("cells", [])
        try:
            return {str(k): str(fp) for k, fp in (cells.items() if isinstance(cells, dict) else cells)}
        except (TypeError, ValueError):
            raise UserError(f"{self.out / RUN_JSON}: `extra.cells` is malformed. Fix: re-run the grid into this folder.") from None

    # ---------------------------------------------------------------- cells
    def cell_path(self, key: str) -> Path:
        """OUT/cells/<key>.parquet."""
        return self.cells_dir / f"{key}.parquet"

    def write_cell(self, key: str, meta: dict[str, Any], df: pd.DataFrame) -> Path:
        """Persist one finished cell atomically, then record it in the index.

        `meta` must hold model, task, seed and fingerprint; `df` holds SAMPLE_COLUMNS (+ EXTRA_COLUMNS).
        """
        cols = SAMPLE_COLUMNS + [c for c in EXTRA_COLUMNS if c in df.columns]
        df = df.assign(**{c: pd_missing(len(df)) for c in LATER_COLUMNS if c not in df.columns})
        table = pa.Table.from_pandas(df[cols].astype(SAMPLE_DTYPES), preserve_index=False)
        md = dict(table.schema.metadata or {})
        md[META_KEY] = json.dumps(meta, sort_keys=True).encode()
        table = table.replace_schema_metadata(md)
        path = self.cell_path(key)
        with atomicio.atomic_path(path, "file") as tmp:
            pq.write_table(table, tmp, write_page_checksum=True)  # CRC per page: bit rot is detected
        self._index_put(key, meta, path, n_rows=len(df), n_correct=int(df["correct"].sum()))
        return path

    def read_cell(self, key: str, columns: list[str] | None = None) -> pd.DataFrame:
        """All stored rows of one cell (SAMPLE_COLUMNS + EXTRA_COLUMNS), checked against the sample
        schema; CellError (exit 2) naming the file if it is unreadable or a column has the wrong type.

        Columns added in later versions (`schema.LATER_COLUMNS`) that an older cell lacks come back
        as missing values."""
        path = self.cell_path(key)
        fix = "Fix: delete that file and re-run the grid (`rv-eval run` re-creates the cell)."
        try:
            stored = set(pq.read_schema(path).names)
            wanted = [c for c in columns if c in stored or c not in LATER_COLUMNS] if columns is not None else None
            table = pq.read_table(path, columns=wanted, page_checksum_verification=True)
        except FileNotFoundError:
            raise CellError(f"cell file {path} is missing. {fix}") from None
        except (pa.ArrowException, OSError, ValueError) as e:
            raise CellError(f"cell file {path} is unreadable ({brief(str(e), 160)}). {fix}") from None
        for name in columns or SAMPLE_COLUMNS:
            if name in SAMPLE_DTYPES and name not in LATER_COLUMNS and table.schema.get_field_index(name) < 0:
                raise CellError(f"cell file {path} lacks the column {name!r}. {fix}")
        for fld in table.schema:
            kind = SAMPLE_DTYPES.get(fld.name)
            if kind in _ARROW_KIND and not _ARROW_KIND[kind](fld.type):
                raise CellError(f"cell file {path}: column {fld.name!r} holds {fld.type}, not {kind} "
                                f"(a forged or foreign file?). {fix}")
            if fld.name in _NOT_NULL and table.column(fld.name).null_count:
                raise CellError(f"cell file {path}: column {fld.name!r} has empty values. {fix}")
        df = table.to_pandas()
        for c in LATER_COLUMNS:
            if c not in df.columns and (columns is None or c in columns):
                df[c] = pd_missing(len(df))
        return df[columns] if columns is not None else df

    def try_read_cell(self, key: str, columns: list[str] | None = None) -> pd.DataFrame | None:
        """`read_cell`, or None after a warning naming the file when it is unreadable (whole-run readers)."""
        try:
            return self.read_cell(key, columns)
        except CellError as e:
            log.warning("skipping an unreadable cell: %s", e)
            return None

    def cell_meta(self, key: str) -> dict[str, Any] | None:
        """The metadata stored in a cell file's footer, or None if the file is absent or unreadable."""
        path = self.cell_path(key)
        try:
            md = pq.read_schema(path).metadata or {}
            return json.loads(md[META_KEY])
        except (FileNotFoundError, KeyError, pa.ArrowInvalid, OSError, json.JSONDecodeError):
            return None

    def remove_stale_temp_files(self, max_age_s: float = 3600.0) -> int:
        """Delete temporary cell files left by killed runs (older than `max_age_s`, so a live shard's
        in-flight write is never touched); return how many were removed."""
        if not self.cells_dir.is_dir():
            return 0
        now, n = time.time(), 0
        for p in self.cells_dir.glob(".*.tmp-*"):
            with contextlib.suppress(FileNotFoundError):
                if now - p.stat().st_mtime > max_age_s:
                    p.unlink()
                    n += 1
        return n

    def stored_fingerprints(self) -> dict[str, str]:
        """{cell key: fingerprint} of every cell file present (index, reconciled with the files)."""
        return {r.key: r.fingerprint for r in self.records()}

    # ---------------------------------------------------------------- index
    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        self.check_writable()
        self.out.mkdir(parents=True, exist_ok=True)
        path = self.out / INDEX_DB
        con = self._connect(path)
        try:
            with con:
                yield con
        except sqlite3.OperationalError as e:
            if "full" in str(e):  # "database or disk is full"
                raise atomicio.no_space(path) from None
            raise UserError(f"the index {path} cannot be written ({e}). Fix: check the folder's permissions, "
                            "or delete index.sqlite (it is rebuilt from the cell files).") from None
        finally:
            con.close()

    def _connect(self, path: Path) -> sqlite3.Connection:
        """Open the index; one that is not a readable SQLite file is deleted and rebuilt (a cache)."""
        for attempt in (1, 2):
            con = sqlite3.connect(path, timeout=60)
            try:
                con.execute(_SCHEMA)
                con.execute("SELECT * FROM cells LIMIT 1").fetchall()
                return con
            except sqlite3.OperationalError as e:
                con.close()
                if "full" in str(e):
                    raise atomicio.no_space(path) from None
                raise UserError(f"the index {path} cannot be opened ({e}). Fix: check the folder's permissions, "
                                "or delete index.sqlite (it is rebuilt from the cell files).") from None
            except sqlite3.DatabaseError as e:  # random bytes, a malformed page: rebuild the cache
                con.close()
                if attempt == 2:
                    raise UserError(f"the index {path} is corrupt ({e}) and could not be rebuilt. "
                                    "Fix: delete index.sqlite (it is rebuilt from the cell files).") from None
                log.warning("%s is not a readable SQLite index (%s); rebuilding it from the cell files", path, e)
                for p in (path, path.with_name(INDEX_DB + "-journal"), path.with_name(INDEX_DB + "-wal")):
                    with contextlib.suppress(FileNotFoundError):
                        p.unlink()
        raise AssertionError("unreachable")

    def _index_put(self, key: str, meta: dict[str, Any], path: Path, n_rows: int, n_correct: int) -> CellRecord:
        st = path.stat()
        rec = CellRecord(key, meta["model"], meta["task"], int(meta["seed"]), meta["fingerprint"],
                         n_rows, n_correct, st.st_size, st.st_mtime_ns)
        with self._db() as con:
            con.execute("INSERT OR REPLACE INTO cells VALUES (?,?,?,?,?,?,?,?,?)", astuple(rec))
        return rec

    def records(self, strict: bool = False) -> list[CellRecord]:
        """Index rows for every cell file present; files the index lacks or has outdated are re-read.

        An unreadable cell file is left out with a warning, or with `strict` raises CellError naming it
        (for commands that must read every cell, such as regrade).
        """
        with self._db() as con:
            rows = {r[0]: CellRecord(*r) for r in con.execute("SELECT * FROM cells")}
        files = {p.stem: p for p in self.cells_dir.glob("*.parquet")} if self.cells_dir.is_dir() else {}
        stale_rows = [k for k in rows if k not in files]
        for key, path in files.items():
            st = path.stat()
            rec = rows.get(key)
            if rec and rec.file_size == st.st_size and rec.file_mtime_ns == st.st_mtime_ns:
                continue
            rows.pop(key, None)
            rec = self._reindex(key, path, strict)
            if rec:
                rows[key] = rec
        if stale_rows:
            with self._db() as con:
                con.executemany("DELETE FROM cells WHERE key = ?", [(k,) for k in stale_rows])
            for k in stale_rows:
                rows.pop(k, None)
        return [rows[k] for k in sorted(rows)]

    def _reindex(self, key: str, path: Path, strict: bool = False) -> CellRecord | None:
        meta = self.cell_meta(key)
        try:
            if meta is None or not isinstance(meta, dict) or not {"model", "task", "seed", "fingerprint"} <= set(meta):
                raise CellError(f"cell file {path} is unreadable (no rv-eval metadata in its footer). "
                                "Fix: delete that file and re-run the grid (`rv-eval run` re-creates the cell).")
            df = self.read_cell(key, columns=["correct"])
            seed = int(meta["seed"])
        except (CellError, TypeError, ValueError) as e:
            if strict:
                raise e if isinstance(e, CellError) else CellError(f"cell file {path}: bad seed in its metadata") from None
            log.warning("ignoring unreadable cell file %s (it will be re-run): %s", path, brief(str(e), 200))
            return None
        return self._index_put(key, {**meta, "seed": seed}, path, n_rows=len(df), n_correct=int(df["correct"].sum()))

    def current_keys(self) -> tuple[list[str], list[str], list[str]]:
        """(finished, pending, stale) cell keys of the current grid, in grid order."""
        expected = self.expected()  # first: a folder that is not a results folder gets no index
        stored = self.stored_fingerprints()
        done, pending, stale = [], [], []
        for key, fp in expected.items():
            if stored.get(key) == fp:
                done.append(key)
            else:
                (stale if key in stored else pending).append(key)
        return done, pending, stale


def load_samples(out: str | Path, with_doc: bool = False, overrides: bool = True) -> pd.DataFrame:
    """Every stored sample of the run in `out` whose cell matches the current grid.

    Returns a DataFrame with exactly `schema.SAMPLE_COLUMNS` (plus `doc_json` when `with_doc`),
    cells in grid order. Cells not finished yet, or stored under another configuration, are left
    out (logged); an unreadable cell file is left out with a warning naming it. With `overrides` (the default), the marks a person made with `rv-eval audit`
    (OUT/overrides.jsonl) replace the grader's verdict of the samples they judge
    (`rv_eval.overrides.apply_marks`); `overrides=False` gives the grader's own verdicts.
    """
    df = _load_samples(out, with_doc)
    if overrides:
        from rv_eval.overrides import apply_marks, read_marks

        df = apply_marks(df, read_marks(out))
    return df


def _load_samples(out: str | Path, with_doc: bool) -> pd.DataFrame:
    store = Store(out)
    done, pending, stale = store.current_keys()
    if pending or stale:
        log.info("%s: %d cells finished, %d not run yet, %d stored under another configuration (left out)",
                 out, len(done), len(pending), len(stale))
    cols = SAMPLE_COLUMNS + (EXTRA_COLUMNS if with_doc else [])
    frames = [df for k in done if (df := store.try_read_cell(k, columns=cols)) is not None]
    if not frames:
        df = pd.DataFrame({c: pd.Series(dtype=SAMPLE_DTYPES.get(c, "string")) for c in cols})
        return df
    df = pd.concat(frames, ignore_index=True).astype(SAMPLE_DTYPES)
    return df[cols] if with_doc else check_samples_frame(df)


def load_run_meta(out: str | Path) -> RunMeta:
    """The run metadata (OUT/run.json); UserError if `out` is not a results folder (nothing is created)."""
    return Store(out).read_run_meta()


def results_folder(out: str | Path) -> Path:
    """`out` as a Path, after checking it is a results folder (UserError naming what it is instead)."""
    Store(out).check_results_folder()
    return Path(out)
