"""Merging per-source models into one for a target (`sources: {combine: merge}`), instead of training on the
sources jointly.

Each source language gets its own source stage, the same stage a transfer matrix (`combine: each`) trains
and shares. A stage's task vector is its trainable state minus the state it started from (Ilharco et al.,
2023): LoRA's adapter matrices and head, or the frozen method's head. The task vectors are combined tensor by
tensor with peft's merge functions, the ones `add_weighted_adapter` uses:
- linear: their weighted sum (task arithmetic), weights summing to 1;
- ties: each trimmed to its largest `density` share of entries, signs elected, agreeing entries averaged
  (Yadav et al., 2023);
- dare_linear / dare_ties: entries dropped at random with probability 1 - density and the rest rescaled
  (Yu et al., 2024), then summed or merged as ties.
Weights are uniform, or the zero-data source ranker's scores (xlt/ranking) through a softmax.
"""
from __future__ import annotations

import math

from xlt.errors import XltError

COMBINATIONS = ("linear", "ties", "dare_linear", "dare_ties")


def merge_states(starts: dict, states: list[dict], weights: list[float], combination: str, density: float) -> dict:
    """start + merge(state_i - start) for every tensor; `weights` sum to 1."""
    import torch
    from peft.utils import merge_utils

    if combination not in COMBINATIONS:
        raise XltError(f"unknown merge {combination!r}; use one of {', '.join(COMBINATIONS)}")
    w = torch.tensor(weights, dtype=torch.float32)
    mean_one = w * len(weights)  # ties merges average the agreeing entries: weights around 1
    merged = {}
    for name, start in starts.items():
        vectors = [s[name].float() - start.float() for s in states]
        if combination == "linear":
            delta = merge_utils.task_arithmetic(vectors, w)
        elif combination == "ties":
            delta = merge_utils.ties(vectors, mean_one, density)
        elif combination == "dare_linear":
            delta = merge_utils.dare_linear(vectors, w, density)
        else:
            delta = merge_utils.dare_ties(vectors, mean_one, density)
        merged[name] = (start.float() + delta).to(start.dtype)
    return merged


def merge_weights(kind: str, ctx) -> list[float]:
    """Uniform, or a softmax over the heuristic ranker's scores of the sources for this group's target."""
    parts = ctx.source.parts
    if kind == "uniform":
        return [1.0 / len(parts)] * len(parts)
    from xlt.ranking.rankers import heuristic_for

    scores = heuristic_for(parts, ctx.targets[0], ctx.tokenizer, ctx.text_profiles)
    top = max(scores)
    exp = [math.exp(s - top) for s in scores]
    return [e / sum(exp) for e in exp]


def merged_stage(stages, method_name: str, seed: int):
    """(method, the merged model, what to record): every source's own stage trained or loaded, then merged."""
    from xlt.protocol.context import Context
    from xlt.protocol.stages import SourceStages

    ctx = stages.ctx
    cfg = ctx.exp.sources
    states, recorded = [], {}
    for part, src in zip(ctx.source.parts, cfg.data):
        single = ctx.exp.model_copy(update={"source": src, "sources": None})
        part_ctx = Context(single, ctx.out, ctx.spec, ctx.tokenizer, ctx.task, ctx.labels, part, ctx.targets,
                           ctx.methods)
        part_ctx.stages = SourceStages(part_ctx, stages.dir)
        method, model, info = part_ctx.stages.model(method_name, seed, part)
        states.append(method.trainable_state(model))
        recorded[part.key()] = {"selection": info.get("selection"), "val_score": info.get("best_val_f1")}
    method, model = ctx.fresh_model(seed, method_name)  # the state every stage started from (same seed)
    weights = merge_weights(cfg.merge_weights, ctx)
    merged = merge_states(method.trainable_state(model), states, weights, cfg.merge, cfg.density)
    method.load_trainable_state(model, merged)
    info = {"merged": {"combination": cfg.merge, "density": cfg.density, "weights_from": cfg.merge_weights,
                       "sources": {k: {**v, "weight": round(w, 4)} for (k, v), w in zip(recorded.items(), weights)}},
            "selection": "each source's own validation split"}
    return method, model, info
