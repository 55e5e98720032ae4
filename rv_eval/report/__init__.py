"""The leaderboard-style HTML report: one self-contained file, opened from disk.

`write_report(out_dir, path, baseline=None)` builds it from a run folder; `build_report(samples_df,
run_meta, baseline=None)` from a samples DataFrame. See docs/report.md.
"""

from rv_eval.report.assemble import ReportOptions
from rv_eval.report.build import build_report, write_report

__all__ = ["ReportOptions", "build_report", "write_report"]
