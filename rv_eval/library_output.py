"""What third-party libraries write to the console during a run: their progress bars and repeated warnings.

rv-eval draws one progress bar per level (`rv_eval.runner.progress_bars`). Hugging Face `datasets`
("Generating test split", "Map", "Filter"), transformers ("Loading weights", "Loading checkpoint
shards") and huggingface_hub (downloads) draw their own bars; `library_output()` turns them off for
the length of a run, with each library's own switch, unless rv-eval logs at DEBUG (`rv-eval -v`).
A library's environment variable (`HF_DATASETS_DISABLE_PROGRESS_BARS`, `HF_HUB_DISABLE_PROGRESS_BARS`)
wins over this. lm-eval's `--metadata` hint, logged once per task load, is let through once per run.
Every setting is restored when the run ends, so a caller of the library API keeps its own.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager


class Once(logging.Filter):
    """Let the first log record containing `text` through and drop the repeats."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text, self.seen = text, False

    def filter(self, record: logging.LogRecord) -> bool:
        if self.text not in record.getMessage():
            return True
        if self.seen:
            return False
        self.seen = True
        return True


#: lm-eval warns at every load of a task whose loader takes `--metadata` (rv-eval's tasks load their own data)
METADATA_ONCE = Once("Custom kwargs can be passed to `--metadata`")
METADATA_LOGGER = "lm_eval.api.task"


def verbose() -> bool:
    """True when rv-eval logs at DEBUG (`rv-eval -v`): libraries then show their bars and logs."""
    return logging.getLogger("rv_eval").getEffectiveLevel() <= logging.DEBUG


def once_filter(logger: str = METADATA_LOGGER, once: Once = METADATA_ONCE) -> Callable[[], None]:
    """Install `once` on `logger` (if not there yet) and start counting afresh; return the undo."""
    log = logging.getLogger(logger)
    once.seen = False
    if once in log.filters:
        return lambda: None
    log.addFilter(once)
    return lambda: log.removeFilter(once)


def _bars_off() -> list[Callable[[], None]]:
    """Turn each installed library's bars off (unless its environment variable decides); the undos, in order."""
    undos: list[Callable[[], None]] = []
    try:
        from datasets import utils as ds

        if os.environ.get("HF_DATASETS_DISABLE_PROGRESS_BARS") is None and not ds.are_progress_bars_disabled():
            ds.disable_progress_bars()
            undos.append(ds.enable_progress_bars)
    except ImportError:
        pass
    if os.environ.get("HF_HUB_DISABLE_PROGRESS_BARS") is not None:
        return undos
    try:
        from huggingface_hub import utils as hub
    except ImportError:
        return undos
    hub_was_off, tf_switched = hub.are_progress_bars_disabled(), False
    try:
        from transformers.utils import logging as tf

        if tf.is_progress_bar_enabled():
            tf.disable_progress_bar()  # also turns huggingface_hub's off; its enable turns them on again
            undos.append(tf.enable_progress_bar)
            tf_switched = True
    except ImportError:
        pass
    if not hub_was_off:
        hub.disable_progress_bars()
        undos.append(hub.enable_progress_bars)
    elif tf_switched:
        undos.append(hub.disable_progress_bars)  # hub's bars were off before transformers' undo: off again
    return undos


@contextmanager
def library_output(show_bars: bool | None = None) -> Iterator[None]:
    """Libraries' bars off (`show_bars`, default `verbose()`) and their repeated warnings once, for a run."""
    show = verbose() if show_bars is None else show_bars
    with ExitStack() as undo:
        undo.callback(once_filter())
        if not show:
            for u in reversed(_bars_off()):  # ExitStack undoes last-in first: this runs them in list order
                undo.callback(u)
        yield


def worker_library_output(show_bars: bool) -> None:
    """`library_output`'s settings for the rest of an engine worker's process (a Ray actor runs one run's cells)."""
    once_filter()
    if not show_bars:
        _bars_off()
