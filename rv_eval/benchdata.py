"""The benchmark data directory: pinned sources, checksum verification, download.

The official benchmark files are not committed. `data/sources.json` pins every file of the data
directory layout (the layout of `shared/data`): the public raw URL at a fixed commit, its sha256,
size and license. `verify_dir` checks a data directory against it, `download` fetches the files
(or a subset) and verifies them before anything lands at its final name, and `benchmark_file`
is how task loaders get a file: it names the missing or mismatching file and the fix.
"""

from __future__ import annotations

import io
import json
import logging
import os
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from rv_eval import atomicio
from rv_eval.errors import UserError
from rv_eval.hashing import sha256_bytes, sha256_file
from rv_eval.paths import DATA_DIR, benchmark_data_dir, default_download_dir

log = logging.getLogger(__name__)

SOURCES_FILE = DATA_DIR / "sources.json"


@dataclass(frozen=True)
class Source:
    """One pinned benchmark file (a row of data/sources.json)."""

    path: str  # relative path inside the data directory
    url: str  # raw URL at the pinned commit (of the zip, for extracted members)
    sha256: str
    bytes: int
    license: str
    repo: str
    commit: str
    member: str | None = None  # member name inside the zip at `url`, for extracted files
    extract_from: str | None = None  # data-dir path of that zip


@dataclass(frozen=True)
class Problem:
    """A file of the data directory that is missing or does not match its pinned checksum."""

    path: str
    kind: str  # "missing" | "size" | "sha256"
    detail: str


def load_sources(path: str | os.PathLike | None = None) -> list[Source]:
    """The pinned sources (default `data/sources.json`)."""
    p = Path(path) if path else SOURCES_FILE
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise UserError(f"cannot read the source manifest {p}: {e}. Fix: restore it from git.") from e
    fields = set(Source.__dataclass_fields__)
    return [Source(**{k: v for k, v in row.items() if k in fields}) for row in raw["files"]]


@cache
def _sources_by_path() -> dict[str, Source]:
    return {s.path: s for s in load_sources()}


def check_file(data_dir: Path, source: Source) -> Problem | None:
    """None if `source.path` exists in `data_dir` with the pinned size and sha256, else the problem."""
    p = data_dir / source.path
    if not p.is_file():
        return Problem(source.path, "missing", f"{p} does not exist")
    size = p.stat().st_size
    if size != source.bytes:
        return Problem(source.path, "size", f"{p} has {size} bytes, pinned {source.bytes}")
    digest = _cached_sha256(str(p), size, p.stat().st_mtime_ns)
    if digest != source.sha256:
        return Problem(source.path, "sha256", f"{p} has sha256 {digest}, pinned {source.sha256}")
    return None


@cache
def _cached_sha256(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(path)


def verify_dir(data_dir: str | os.PathLike, paths: list[str] | None = None) -> list[Problem]:
    """Check `data_dir` against the manifest (all files, or only `paths`); return the problems."""
    root = Path(data_dir)
    sources = select_sources(load_sources(), paths)
    return [p for s in sources if (p := check_file(root, s)) is not None]


def benchmark_file(rel: str, data_dir: str | os.PathLike | None = None) -> Path:
    """Path of a pinned benchmark file, checked against its sha256; UserError naming the fix if not."""
    root = benchmark_data_dir(data_dir)
    source = _sources_by_path().get(rel)
    if source is None:
        raise UserError(f"{rel} is not in the source manifest {SOURCES_FILE}. Fix: add it there with its sha256.")
    problem = check_file(root, source)
    if problem is not None:
        raise UserError(
            f"benchmark file {rel}: {problem.detail}. Fix: run `rv-eval data download --data-dir {root}` "
            f"(or point --data-dir / RV_EVAL_DATA_DIR at a folder with the layout of shared/data)."
        )
    return root / rel


def download(
    dest: str | os.PathLike | None = None,
    base_url: str | None = None,
    paths: list[str] | None = None,
    force: bool = False,
    timeout: float = 60.0,
) -> list[str]:
    """Fetch the pinned files into `dest` (default ~/.cache/rv-eval/data); return the paths written.

    `base_url` replaces the public URLs by `<base_url>/<path>` (a mirror with the data-dir layout,
    e.g. a local http.server). Files already present and matching are skipped unless `force`.
    Every file is verified before it is renamed to its final name.
    """
    from tqdm import tqdm

    root = Path(dest) if dest else default_download_dir()
    written: list[str] = []
    todo = [s for s in select_sources(load_sources(), paths) if force or check_file(root, s) is not None]
    zips: dict[str, bytes] = {}  # several files are members of one zip: fetch it once
    for source in tqdm(todo, desc="download", unit="file", disable=not todo):
        data = _fetch_source(source, base_url, timeout, zips)
        digest = sha256_bytes(data)
        if digest != source.sha256:
            raise UserError(
                f"downloaded {source.path} from {_url_for(source, base_url)} has sha256 {digest}, "
                f"pinned {source.sha256}. Fix: check the URL / mirror; the source may have changed."
            )
        atomicio.write_bytes(root / source.path, data)
        written.append(source.path)
    return written


def _fetch_source(source: Source, base_url: str | None, timeout: float, zips: dict[str, bytes]) -> bytes:
    if base_url or not source.member:
        return _http_get(_url_for(source, base_url), timeout)
    if source.url not in zips:
        zips[source.url] = _http_get(source.url, timeout)
    try:
        with zipfile.ZipFile(io.BytesIO(zips[source.url])) as z:
            return z.read(source.member)
    except (zipfile.BadZipFile, KeyError) as e:
        raise UserError(f"cannot extract {source.member!r} from {source.url}: {e}. Fix: check the pinned URL.") from e


def _url_for(source: Source, base_url: str | None) -> str:
    return f"{base_url.rstrip('/')}/{source.path}" if base_url else source.url


def _http_get(url: str, timeout: float) -> bytes:
    log.debug("GET %s", url)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.read()
    except (urllib.error.URLError, OSError) as e:
        raise UserError(f"cannot download {url}: {e}. Fix: check the network or pass --base-url to a mirror.") from e


def select_sources(sources: list[Source], paths: list[str] | None) -> list[Source]:
    """The sources whose path is one of `paths` or lies under one of them (all when `paths` is empty)."""
    if not paths:
        return sources
    known = {s.path for s in sources}
    unknown = [p for p in paths if p not in known and not any(k.startswith(p.rstrip("/") + "/") for k in known)]
    if unknown:
        raise UserError(f"not in the source manifest: {', '.join(unknown)}. Fix: use paths from {SOURCES_FILE}.")
    return [s for s in sources if any(s.path == p or s.path.startswith(p.rstrip("/") + "/") for p in paths)]
