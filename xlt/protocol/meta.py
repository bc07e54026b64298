"""X-MAML's meta-training (Nooralahzadeh et al. 2020), first-order: from the source-trained model, repeatedly take a
small task from an auxiliary language, adapt to it in a few optimiser steps, and move the starting weights
(reptile: toward the adapted weights; fomaml: along the query loss's gradient at them), so the N target shots
that follow start from weights that adapt quickly to a new language. The meta-trained weights depend on the source
stage, the seed and the auxiliary languages, not on N or the target (beyond leaving its language out): they are saved
under stages/ and shared by every run that would train the same ones."""
from __future__ import annotations

import json
import random
import time

import torch
from torch import nn

from xlt.errors import XltError


def load_auxiliary(ctx) -> dict:
    """The auxiliary languages of protocol.meta through the data pipeline, labelled within the study's labels."""
    from xlt.protocol.plan import _load

    out = {}
    for src in ctx.exp.protocol.meta.languages:
        data, _ = _load(src, ctx.exp, ctx.data_dir, ctx.task, ctx.source.labels if ctx.task.data_kind == "text" else None)
        if not data.splits["train"]:
            raise XltError(f"meta-learning's auxiliary language {data.key()} has no labelled training data; give its "
                           "files: {train: ...}")
        unknown = sorted(set(data.labels) - set(ctx.labels))
        if unknown:
            raise XltError(f"meta-learning's auxiliary language {data.key()} has labels {unknown} that the source and "
                           f"targets lack ({ctx.labels}); map them with its label_map")
        out[data.language] = data
    return out


def ranked_auxiliary(ctx, target, candidates: dict, k: int) -> tuple[dict, list]:
    """The k candidates (language -> LanguageData) the zero-data source ranker scores highest as sources for
    `target`, and every candidate's score, best first, for the run record."""
    from xlt.ranking.rankers import heuristic_for

    names = sorted(candidates)
    scores = heuristic_for([candidates[n] for n in names], target, ctx.tokenizer, ctx.text_profiles)
    ranked = sorted(zip(names, scores), key=lambda x: -x[1])
    return {n: candidates[n] for n, _ in ranked[:k]}, [[n, round(s, 3)] for n, s in ranked]


def meta_stage(ctx, method, model, method_name: str, languages: dict, seed: int) -> dict:
    """Meta-train `model` in place, or load the weights an earlier run meta-trained from the same source stage, seed,
    auxiliary data and settings; returns what to record (`reused` says which)."""
    from xlt.files import atomic_save_tensors, atomic_write_text, load_saved_tensors
    from xlt.protocol.stages import stage_key

    tr = ctx.exp.training
    data = [[d.key(), len(d.splits["train"]), [str(r) for r in d.splits["train"][:50]]]
            for _, d in sorted(languages.items())]
    what = [ctx.stages.path(method_name, seed, ctx.source).name, seed, data,
            ctx.exp.protocol.meta.model_dump(mode="json", exclude={"languages", "top_k"}),
            method.lr_continue(tr), tr.weight_decay, tr.bf16, tr.max_length]
    key = stage_key(what)
    path = ctx.stages.dir / f"meta-{method_name}-seed{seed}-{'-'.join(sorted(languages))}-{key}.safetensors"
    if path.exists():
        method.load_trainable_state(model, load_saved_tensors(path))
        return {"meta": {**json.loads(path.with_suffix(".json").read_text()), "reused": True}}
    info = meta_train(ctx, method, model, languages, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path.with_suffix(".json"), json.dumps(info["meta"]))
    atomic_save_tensors(path, method.trainable_state(model))
    return {"meta": {**info["meta"], "reused": False}}


def meta_train(ctx, method, model, languages: dict, seed: int) -> dict:
    """Meta-train `model` in place on `languages` (language -> LanguageData); returns what to record."""
    from xlt.train import autocast, batch_labels, collate, device, seed_everything, to_device, use_bf16

    cfg, tr = ctx.exp.protocol.meta, ctx.exp.training
    seed_everything(seed)
    rng, dev, bf16 = random.Random(seed), device(), use_bf16(tr.bf16)
    model.to(dev)
    params = [p for p in model.parameters() if p.requires_grad]
    lr = cfg.inner_lr or method.lr_continue(tr)
    encoded = {lang: ctx.encode(d.splits["train"]) for lang, d in sorted(languages.items())}

    def loss_on(enc, rows: list[int]) -> torch.Tensor:
        batch = collate([enc.ids[i] for i in rows], ctx.tokenizer.pad_token_id)
        y = batch_labels([enc.labels[i] for i in rows], batch["input_ids"].shape[1])
        batch, y = to_device(batch, dev), y.to(dev)
        with autocast(dev, bf16):
            logits = model(**batch).logits
        return nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1),
                                           ignore_index=-100)

    start, history = time.perf_counter(), []
    model.train()
    for _ in range(cfg.steps):
        lang = rng.choice(list(encoded))
        enc = encoded[lang]
        method.use_language(model, lang, labelled=True)
        drawn = rng.sample(range(len(enc.ids)), min(len(enc.ids), 2 * cfg.task_size))
        support, query = drawn[:cfg.task_size], drawn[cfg.task_size:] or drawn[:cfg.task_size]
        before = [p.detach().clone() for p in params]
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=tr.weight_decay)  # a fresh inner optimiser per task
        for _ in range(cfg.inner_steps):
            loss = loss_on(enc, support)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
        entry = {"language": lang, "support_loss": round(loss.item(), 4)}
        if cfg.algorithm == "fomaml":
            query_loss = loss_on(enc, query)
            grads = torch.autograd.grad(query_loss, params, allow_unused=True)
            entry["query_loss"] = round(query_loss.item(), 4)
            with torch.no_grad():
                for p, b, g in zip(params, before, grads):
                    p.copy_(b - cfg.meta_lr * lr * g if g is not None else b)
        else:
            with torch.no_grad():
                for p, b in zip(params, before):
                    p.copy_(b + cfg.meta_lr * (p - b))
        history.append(entry)
    return {"meta": {"algorithm": cfg.algorithm, "steps": cfg.steps, "inner_steps": cfg.inner_steps,
                     "task_size": cfg.task_size, "inner_lr": lr, "meta_lr": cfg.meta_lr,
                     "languages": {lang: len(d.splits["train"]) for lang, d in sorted(languages.items())},
                     "seconds": round(time.perf_counter() - start, 1), "history": history}}
