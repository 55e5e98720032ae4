"""Write the task YAMLs of this folder from one table (run from the repo root after editing it).

    python tasks/generate_configs.py          # (re)write every YAML
    python tasks/generate_configs.py --check  # exit 1 if a committed YAML differs

Each YAML includes `_rv_template_yaml` (hooks, metrics, all-samples filter) and sets the task
name, generation defaults and the `metadata` block that rv_eval.tasks reads (rv_task, lang,
split, serves, kind, subtask, source, part, prompt).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
VERSION = 1.0
LONG, MID, SHORT = 32768, 8192, 256  # default max_gen_toks; override with lm-eval --gen_kwargs

# name: (folder, source, lang, split, serves, kind, part, prompt, max_gen_toks)
TASKS: dict[str, tuple] = {
    "aime24_en": ("aime24", "aime24", "en", "test", None, "math", None, "boxed", LONG),
    "aime24_ja": ("aime24", "aime24", "ja", "test", None, "math", None, "boxed", LONG),
    "aime24_en_plain": ("aime24", "aime24", "en", "test", None, "math", None, "plain", LONG),
    "aime24_ja_plain": ("aime24", "aime24", "ja", "test", None, "math", None, "plain", LONG),
    "aime_dev_en": ("aime24", "aime_dev", "en", "dev", "aime24_en", "math", None, "boxed", LONG),
    "aime_dev_ja": ("aime24", "aime_dev", "ja", "dev", "aime24_ja", "math", None, "boxed", LONG),
    "aime_dev_en_plain": ("aime24", "aime_dev", "en", "dev", "aime24_en_plain", "math", None, "plain", LONG),
    "aime_dev_ja_plain": ("aime24", "aime_dev", "ja", "dev", "aime24_ja_plain", "math", None, "plain", LONG),
    "gsm8k_en": ("gsm8k", "gsm8k", "en", "test", None, "math", "test", "boxed", MID),
    "gsm8k_dev_en": ("gsm8k", "gsm8k", "en", "dev", "gsm8k_en", "math", "dev", "boxed", MID),
    "mgsm_ja": ("mgsm", "mgsm", "ja", "test", None, "math", None, "boxed", MID),
    "mgsm_en": ("mgsm", "mgsm", "en", "test", None, "math", None, "boxed", MID),
    "humaneval_en": ("humaneval", "humaneval", "en", "test", None, "code", None, "code", MID),
    "humaneval_ja": ("humaneval", "humaneval", "ja", "test", None, "code", None, "code", MID),
    "sciq_en": ("sciq", "sciq", "en", "test", None, "choice", "test", "choice", MID),
    "sciq_dev_en": ("sciq", "sciq", "en", "dev", "sciq_en", "choice", "valid", "choice", MID),
    "demo_en": ("demo", "demo", "en", "test", None, "math", "test", "boxed", SHORT),
    "demo_ja": ("demo", "demo", "ja", "test", None, "math", "test", "boxed", SHORT),
    "demo_dev_en": ("demo", "demo", "en", "dev", "demo_en", "math", "dev", "boxed", SHORT),
    "demo_dev_ja": ("demo", "demo", "ja", "dev", "demo_ja", "math", "dev", "boxed", SHORT),
}

# BBH groups: name: (lang, split, serves, part, prompt); members are <group>_<subtask>
BBH_GROUPS: dict[str, tuple] = {
    "bbh_en": ("en", "test", None, "test", "cot3"),
    "bbh_ja": ("ja", "test", None, "test", "cot3"),
    "bbh_dev_en": ("en", "dev", "bbh_en", "dev", "cot3"),
    "bbh_dev_ja": ("ja", "dev", "bbh_ja", "dev", "cot3"),
    "bbh_zs_en": ("en", "test", None, "test", "zeroshot"),
    "bbh_zs_ja": ("ja", "test", None, "test", "zeroshot"),
    "bbh_zs_dev_en": ("en", "dev", "bbh_zs_en", "dev", "zeroshot"),
    "bbh_zs_dev_ja": ("ja", "dev", "bbh_zs_ja", "dev", "zeroshot"),
}


# Stop sequences of the 3-shot CoT prompts ("Q: … A: …" blocks): the published prompts end an
# answer where the next "Q:" would begin; BBH-ja models also write the full-width colon.
COT_STOPS = {"en": ["\n\nQ:"], "ja": ["\n\nQ:", "\n\nQ："]}


def _bbh_subtasks() -> list[str]:
    sys.path.insert(0, str(HERE.parent))
    from rv_eval.splits import BBH_SUBTASKS

    return list(BBH_SUBTASKS)


def _meta(name: str, lang: str, split: str, serves: str | None, kind: str, **extra) -> dict:
    meta = {"version": VERSION, "rv_task": name, "lang": lang, "split": split, "serves": serves or name, "kind": kind}
    return meta | {k: v for k, v in extra.items() if v is not None}


def task_config(name: str, row: tuple) -> tuple[Path, dict]:
    """(relative path, config) of one plain task."""
    folder, source, lang, split, serves, kind, part, prompt, max_gen = row
    cfg = {
        "include": "../_rv_template_yaml",
        "task": name,
        "generation_kwargs": {"until": [], "max_gen_toks": max_gen, "do_sample": False},
        "metadata": _meta(name, lang, split, serves, kind, source=source, part=part, prompt=prompt),
    }
    if kind == "code":
        cfg["unsafe_code"] = True
    return Path(folder) / f"{name}.yaml", cfg


def bbh_configs(group: str, row: tuple) -> list[tuple[Path, dict]]:
    """The group YAML and its 27 member task YAMLs."""
    lang, split, serves, part, prompt = row
    subs = _bbh_subtasks()
    out = []
    for sub in subs:
        name = f"{group}_{sub}"
        meta = _meta(name, lang, split, f"{serves}_{sub}" if serves else None, "bbh",
                     source="bbh", part=part, prompt=prompt, subtask=sub, group=group)
        cfg = {
            "include": "../../_rv_template_yaml",
            "task": name,
            "generation_kwargs": {"until": COT_STOPS[lang] if prompt == "cot3" else [], "max_gen_toks": MID,
                                  "do_sample": False},
            "metadata": meta,
        }
        out.append((Path("bbh") / group / f"{name}.yaml", cfg))
    agg = [{"metric": m, "aggregation": "mean", "weight_by_size": True, "filter_list": "all_samples"}
           for m in ("acc", "pass_at_k", "maj_at_k")]
    group_cfg = {
        "group": group,
        "task": [f"{group}_{s}" for s in subs],
        "aggregate_metric_list": agg,
        "metadata": _meta(group, lang, split, serves, "bbh", source="bbh", part=part, prompt=prompt),
    }
    out.append((Path("bbh") / group / f"_{group}.yaml", group_cfg))
    return out


def all_configs() -> list[tuple[Path, dict]]:
    """Every (path, config) this folder should hold."""
    out = [task_config(n, r) for n, r in TASKS.items()]
    for g, r in BBH_GROUPS.items():
        out += bbh_configs(g, r)
    return out


def dump(cfg: dict) -> str:
    """YAML text of a config (generated-file header first)."""
    head = "# generated by tasks/generate_configs.py; edit the table there, not this file\n"
    return head + yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True, width=1000)


def main(argv: list[str] | None = None) -> int:
    """Write (or with --check compare) every generated YAML."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="exit 1 if a YAML is missing or differs")
    args = ap.parse_args(argv)
    stale = []
    for rel, cfg in all_configs():
        path, text = HERE / rel, dump(cfg)
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(str(rel))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if stale:
        print("stale task YAMLs (run python tasks/generate_configs.py):", *stale, sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
