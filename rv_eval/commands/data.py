"""`rv-eval data download|verify`: fetch the pinned benchmark files, check a data directory."""

from __future__ import annotations

import argparse
import os
import sys

from rv_eval import benchdata
from rv_eval.errors import CheckFailed
from rv_eval.paths import DATA_DIR_ENV, benchmark_data_dir, default_download_dir

EPILOG = f"""\
examples:
  rv-eval data download                          # all files into {default_download_dir()}
  rv-eval data download --data-dir /data/rv      # somewhere else (then export {DATA_DIR_ENV}=/data/rv)
  rv-eval data download --only gsm8k mgsm/mgsm_ja.tsv
  rv-eval data download --base-url http://127.0.0.1:8000   # a mirror with the data-dir layout
  rv-eval data verify                            # check the data dir rv-eval would use
  rv-eval data verify --data-dir ../shared/data

The pinned sources (URL at a fixed commit, sha256, license) are in data/sources.json.
verify exits 1 when a file is missing or its checksum differs.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `data` command with its `download` and `verify` actions."""
    p = subparsers.add_parser(
        "data",
        help="download / verify the benchmark files",
        description="Download the pinned benchmark files and verify their sha256 checksums.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("action", choices=["download", "verify"])
    p.add_argument("--data-dir", help=f"data directory (default: ${DATA_DIR_ENV}, else {default_download_dir()})")
    p.add_argument("--only", nargs="+", metavar="PATH", help="only these files or folders (paths as in data/sources.json)")
    p.add_argument("--base-url", help="fetch <base-url>/<path> instead of the pinned public URLs (a mirror)")
    p.add_argument("--force", action="store_true", help="download even files that are already present and valid")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run `data download` or `data verify`."""
    if args.action == "download":
        dest = args.data_dir or os.environ.get(DATA_DIR_ENV) or default_download_dir()
        written = benchdata.download(dest, base_url=args.base_url, paths=args.only, force=args.force)
        print(f"{len(written)} file(s) downloaded and verified into {dest}")
        return 0
    data_dir = benchmark_data_dir(args.data_dir)
    problems = benchdata.verify_dir(data_dir, paths=args.only)
    n = len(benchdata.select_sources(benchdata.load_sources(), args.only))
    for pr in problems:
        print(f"{pr.kind}: {pr.path}: {pr.detail}", file=sys.stderr)
    if problems:
        raise CheckFailed(
            f"{len(problems)} of {n} benchmark file(s) in {data_dir} are missing or differ from data/sources.json. "
            f"Fix: rv-eval data download --data-dir {data_dir}"
        )
    print(f"all {n} benchmark files in {data_dir} match data/sources.json")
    return 0
