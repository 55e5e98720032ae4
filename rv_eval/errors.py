"""Exceptions that map onto the CLI's exit codes.

Exit codes used by every command: 0 success, 1 a check failed (e.g. a regression gate),
2 a user error (bad path, malformed file, mismatched checkpoints), reported as one clear
message without a traceback; `rv-eval check` returns 3 when its verdict is inconclusive.
"""


class UserError(Exception):
    """A problem the user can fix (bad input). The CLI prints the message and exits with code 2."""

    exit_code = 2


class CheckFailed(Exception):
    """A check ran and its verdict is negative (e.g. `rv-eval check` found a regression). Exit code 1."""

    exit_code = 1
