"""`rv-eval tasks`: the task names a grid can list, with language, split and grader kind.

Groups (bbh_en, bbh_ja, ...) are shown with their subtask count; a grid lists the subtasks
(`rv-eval tasks bbh_en` prints them) and `rv-eval stats --pool` pools their results.
"""

from __future__ import annotations

import argparse

EPILOG = """\
examples:
  rv-eval tasks                  # every top-level task and group
  rv-eval tasks bbh_en           # the subtasks of a group (the names a grid lists)
  rv-eval tasks --all            # every task, BBH subtasks included
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `tasks` sub-command."""
    p = subparsers.add_parser(
        "tasks", help="list the task names a grid can use", description=__doc__, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("group", nargs="?", metavar="GROUP", help="list the subtasks of this group (e.g. bbh_en)")
    p.add_argument("--all", action="store_true", help="include every BBH subtask")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print one task per line: name, lang, split, kind (and the subtask count of a group)."""
    from rv_eval.tasks import list_tasks, subtasks, task_info

    names = subtasks(args.group) if args.group else list_tasks(include_subtasks=args.all)
    rows = ["task\tlang\tsplit\tkind\tsubtasks"]
    for name in names:
        info = task_info(name)
        count = str(len(subtasks(name))) if info.is_group else ""
        rows.append(f"{name}\t{info.lang}\t{info.split}\t{info.kind}\t{count}")
    print("\n".join(rows))
    return 0
