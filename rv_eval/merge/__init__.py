"""α-variant merges: θ_α = θ_target + α·(θ_post − θ_pre), streamed in one pass for all α.

Planning (`plan`: every check before any byte is written) is separate from execution
(`executor`: chunked float32 math, reader/compute/writer threads); all file I/O lives in `io/`.
"""

from rv_eval.merge.plan import MergePlan, TensorTask, build_plan
from rv_eval.merge.spec import MergeSpec, alpha_dirname, load_recipe, parse_alphas
from rv_eval.merge.variants import PROVENANCE, merge_variants, plan_merge, stream_variant

__all__ = ["PROVENANCE", "MergePlan", "MergeSpec", "TensorTask", "alpha_dirname", "build_plan", "load_recipe",
           "merge_variants", "parse_alphas", "plan_merge", "stream_variant"]
