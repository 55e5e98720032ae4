"""Hub ids of a grid checked before a run writes anything.

A model named by hub id ("org/name") is fine if it is in the local Hugging Face cache; otherwise the
hub is asked once, with a short timeout and no retries. Without this check a mistyped id fails
only when its engine starts, after transformers' download retries (about a minute) and after the
run folder was created. Every bad id is reported in one error.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rv_eval.errors import UserError

TIMEOUT_S = 10.0


def grid_hub_ids(grid: Any) -> list[str]:
    """The grid's model references that are not local folders (hub ids), in grid order, once each."""
    refs = [m.path for m in grid.models if m.path] + [p for v in grid.vectors for p in (v.pre, v.post, v.target)]
    out: list[str] = []
    for r in refs:
        if not Path(r).expanduser().is_dir() and r not in out:
            out.append(r)
    return out


def check_hub_models(grid: Any) -> None:
    """Raise one UserError naming every hub id of `grid` that is neither cached nor on the hub."""
    problems = [p for p in (hub_problem(i) for i in grid_hub_ids(grid)) if p]
    if problems:
        raise UserError("; ".join(problems) + ". Fix: correct the id, or download the model "
                        "(hf download ORG/NAME) and give its local folder.")


def hub_problem(repo_id: str) -> str | None:
    """None if `repo_id` is in the local cache or exists on the hub; else what is wrong with it."""
    if _cached(repo_id):
        return None
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return f"model {repo_id!r} is not a local folder and not in the Hugging Face cache (HF_HUB_OFFLINE is set)"
    try:
        from huggingface_hub import HfApi
        from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError
    except ImportError:
        return None  # transformers will report it when the engine starts
    try:
        HfApi().model_info(repo_id, timeout=TIMEOUT_S)
    except GatedRepoError:
        return None  # exists; access is checked (with the user's token) when it is downloaded
    except RepositoryNotFoundError:
        return f"model {repo_id!r} is not a local folder and does not exist on the Hugging Face hub (or is private)"
    except Exception as e:  # noqa: BLE001  (network errors of requests/httpx: the hub cannot be reached)
        return (f"model {repo_id!r} is not a local folder, not in the Hugging Face cache, and the hub cannot be "
                f"reached ({type(e).__name__})")
    return None


def _cached(repo_id: str) -> bool:
    """True if a snapshot of `repo_id` with a config.json is in the local Hugging Face cache."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    try:
        found = try_to_load_from_cache(repo_id, "config.json")
    except Exception:  # noqa: BLE001  (an id the cache layer refuses is simply not cached)
        return False
    return isinstance(found, str)
