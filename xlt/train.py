"""The one training loop every method and strategy uses, and batched prediction.

Speed choices (see BENCHMARKS.md): texts are tokenized once; batches group texts of similar
length (keeping each class's share in every batch) and are padded only to their own longest text;
bf16 autocast only where the CPU has native bf16 (on an AVX2-only CPU it measured 28x slower than
fp32, bench/train_speed.py); on a CPU, dropout masks
from 16 random bits per element (xlt/fast_dropout.py); frozen encoders compute features once.
"""
from __future__ import annotations

import math
import os
import random
import time
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import torch
from torch import nn
from transformers import get_linear_schedule_with_warmup

from xlt.data.examples import Example
from xlt.errors import XltError
from xlt.evaluate.metrics import macro_f1
from xlt.fast_dropout import fast_dropout, use_fast_dropout
from xlt.methods.frozen import C_GRID, fit_logistic_head
from xlt.progress import stage_bar


@lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return False
    return any(f in flags for f in ("avx512_bf16", "amx_bf16"))


def use_bf16(setting: str) -> bool:
    if setting == "on":
        return True
    if setting == "off":
        return False
    return torch.cuda.is_available() or cpu_has_native_bf16()


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def half_dtype(dev: torch.device) -> torch.dtype:
    """The autocast type: bf16, except on a GPU without it (before Ampere), where fp16 is used and training
    scales its loss (torch.amp.GradScaler) so small gradients do not underflow."""
    return torch.float16 if dev.type == "cuda" and not torch.cuda.is_bf16_supported() else torch.bfloat16


def autocast(dev: torch.device, enabled: bool):
    return torch.autocast(dev.type, dtype=half_dtype(dev), enabled=enabled)


def to_device(batch: dict[str, torch.Tensor], dev: torch.device) -> dict[str, torch.Tensor]:
    """A batch on `dev`; to a GPU from pinned memory, without waiting for the copy."""
    if dev.type != "cuda":
        return batch
    return {k: v.pin_memory().to(dev, non_blocking=True) for k, v in batch.items()}


def prediction_batch_size(tcfg) -> int:
    """training.eval_batch_size, else 64 texts on a CPU and 512 on a GPU (large batches keep a GPU busy)."""
    return tcfg.eval_batch_size or (512 if torch.cuda.is_available() else 64)


def usable_cores() -> int:
    """The cores this process may run on (taskset or a container's CPU set), not every core of the machine."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def set_threads(n: int | None) -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    torch.set_num_threads(n or usable_cores())


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@dataclass
class Encoded:
    """Token ids of each example, computed once."""

    ids: list[list[int]]
    labels: list[int]
    weights: list[float] | None = None  # per-example weight in the loss (the frozen head's refit; None: all 1)
    head_c: float | None = None  # the frozen head's regularisation, fixed by the caller (None: chosen on validation)
    languages: list[str] | None = None  # each row's language where a stage mixes languages (None: the model's)


def encode(tokenizer, rows: list[Example], prefix: str, max_length: int, label2id: dict[str, int]) -> Encoded:
    texts = [prefix + r.text for r in rows]
    pairs = [r.text_pair for r in rows] if rows and rows[0].text_pair is not None else None
    enc = tokenizer(texts, pairs, truncation=True, max_length=max_length)
    return Encoded(enc["input_ids"], [label2id.get(r.label, -100) for r in rows])


def length_grouped_batches(lengths: list[int], batch_size: int, rng: random.Random | None,
                           strata: list | None = None) -> list[list[int]]:
    """Batches of similar length. Prediction (no rng): sort everything by length. Training (rng given):
    shuffle, sort within pools of 50 batches, shuffle the batch order.

    With `strata` (one class label per text) the sort key is a text's length rank within its own class,
    so each batch holds every class in the data's proportions, at about the same length quantile of
    each: where length predicts the label (NusaX-senti: neutral posts are half as long as positive
    ones), sorting by length alone fills whole batches with one class (bench/batching.py)."""
    idx = list(range(len(lengths)))
    if rng is None:
        idx.sort(key=lambda i: lengths[i])
        return _chunks(idx, batch_size)
    rng.shuffle(idx)
    key = lengths if strata is None else _rank_within_stratum(idx, lengths, strata)
    pool = batch_size * 50
    batches = []
    for start in range(0, len(idx), pool):
        chunk = sorted(idx[start:start + pool], key=lambda i: key[i])
        batches += _chunks(chunk, batch_size)
    rng.shuffle(batches)
    return batches


def _chunks(idx: list[int], size: int) -> list[list[int]]:
    return [idx[i:i + size] for i in range(0, len(idx), size)]


def _rank_within_stratum(order: list[int], lengths: list[int], strata: list) -> list[float]:
    """Each text's length quantile within its stratum; equal lengths keep their (shuffled) `order`."""
    groups: dict = {}
    for i in order:
        groups.setdefault(strata[i], []).append(i)
    key = [0.0] * len(lengths)
    for members in groups.values():
        members.sort(key=lambda i: lengths[i])
        for rank, i in enumerate(members):
            key[i] = (rank + 0.5) / len(members)
    return key


def training_batches(lengths: list[int], labels: list, batch_size: int, rng: random.Random,
                     batching: str) -> list[list[int]]:
    """One epoch's batches as `training.batching` says: "stratified" (length-grouped with each class's
    share in every batch; for token tasks, whose labels are per word, the same as "length"), "length"
    (length-grouped alone) or "random" (shuffled; still padded only to each batch's longest text)."""
    if batching == "random":
        idx = list(range(len(lengths)))
        rng.shuffle(idx)
        return _chunks(idx, batch_size)
    stratify = batching == "stratified" and not per_word(labels)
    return length_grouped_batches(lengths, batch_size, rng, labels if stratify else None)


# what one extra forward/backward pass costs beyond its tokens, in padded tokens (Python and operator dispatch
# for a 12-layer encoder on a CPU, about 30 ms against about 1 ms per token; bench/train_speed.py)
PIECE_COST_TOKENS = 32


def micro_batches(batch: list[int], lengths: list[int], piece_cost: int | None = None) -> list[list[int]]:
    """Split one training batch into length-sorted pieces, each padded only to its own longest text, where the
    padding saved outweighs `piece_cost` per extra piece. The optimiser step is still over the whole batch
    (`train` sums the pieces' losses over the batch's normaliser), so only padding is saved: stratified
    batches mix each class's short and long texts, which pads about 30% over the real tokens on NusaX.
    Exact partition of the sorted batch by dynamic programming (16 texts: trivial)."""
    piece_cost = PIECE_COST_TOKENS if piece_cost is None else piece_cost
    order = sorted(batch, key=lambda i: lengths[i])
    n = len(order)
    best = [0.0] + [math.inf] * n  # best[j]: cost of the first j sorted texts
    cut = [0] * (n + 1)
    for j in range(1, n + 1):
        for i in range(j):  # last piece = order[i:j], padded to lengths[order[j - 1]]
            c = best[i] + (j - i) * lengths[order[j - 1]] + piece_cost
            if c < best[j]:
                best[j], cut[j] = c, i
    pieces, j = [], n
    while j > 0:
        pieces.append(order[cut[j]:j])
        j = cut[j]
    return pieces[::-1] if len(pieces) > 1 else [batch]


def collate(ids: list[list[int]], pad_id: int, width: int | None = None) -> dict[str, torch.Tensor]:
    """Token ids padded to `width` (default: the longest), and their attention mask."""
    width = width or max(len(x) for x in ids)
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for i, x in enumerate(ids):
        input_ids[i, : len(x)] = torch.tensor(x)
        mask[i, : len(x)] = 1
    return {"input_ids": input_ids, "attention_mask": mask}


@dataclass
class TrainResult:
    best_epoch: int
    best_val_f1: float | None
    epochs_run: int
    steps: int
    examples_seen: int
    seconds: float
    history: list[dict] = field(default_factory=list)
    head_c: float | None = None  # frozen method: the logistic-regression head's chosen regularisation


def per_word(labels: list) -> bool:
    """Token tasks label each subword (a list per text); classification one class id per text."""
    return bool(labels) and isinstance(labels[0], list)


def batch_labels(labels: list, width: int) -> torch.Tensor:
    """Class ids (one per text) or per-subword tag ids padded with -100 to the batch width."""
    if per_word(labels):
        y = torch.full((len(labels), width), -100, dtype=torch.long)
        for i, lab in enumerate(labels):
            y[i, : len(lab)] = torch.tensor(lab)
        return y
    return torch.tensor(labels)


def train(model: nn.Module, method, tokenizer, train_data: Encoded, val_data: Encoded | None, tcfg, lr: float,
          seed: int, desc: str = "train", validate=None, pairs=None) -> TrainResult:
    """Train `model` in place; keeps the epoch with the best validation score (or the last).

    `validate(model) -> float` scores the validation set (the task's primary metric); without it,
    macro-F1 of `val_data` is used. `pairs` (xlt.align.loss.PairBatches) adds its alignment loss at every step."""
    seed_everything(seed)
    dev = device()
    model.to(dev)
    if method.frozen_features:
        return _train_head_on_features(model, method, tokenizer, train_data, val_data, tcfg, seed)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=tcfg.weight_decay)
    n = len(train_data.ids)
    steps_per_epoch = math.ceil(n / tcfg.batch_size)
    epochs = max(tcfg.epochs, math.ceil(tcfg.min_steps / steps_per_epoch))
    total = epochs * steps_per_epoch
    sched = get_linear_schedule_with_warmup(opt, int(tcfg.warmup_ratio * total), total)
    weight = _class_weights(train_data.labels, model.config.num_labels) if tcfg.class_weighted_loss else None
    # summed over a batch's pieces, / the batch's normaliser (computed on the host: no device round trip)
    loss_sum = nn.CrossEntropyLoss(weight=None if weight is None else weight.to(dev), reduction="sum")
    lengths = [len(x) for x in train_data.ids]
    rng, pair_rng = random.Random(seed), random.Random(seed + 1)
    bf16 = use_bf16(tcfg.bf16)
    scaler = torch.amp.GradScaler("cuda", enabled=bf16 and half_dtype(dev) is torch.float16)
    best, best_state, best_epoch, history, bad_epochs, steps, seen = -1.0, None, epochs, [], 0, 0, 0
    start = time.perf_counter()
    with fast_dropout(model, use_fast_dropout(tcfg.fast_dropout)):
        bar = stage_bar(total=total, desc=desc)
        for epoch in range(1, epochs + 1):
            model.train()
            run_loss = torch.zeros((), device=dev)  # summed on the device: no host sync per step
            align_loss = torch.zeros((), device=dev)
            for batch_idx in training_batches(lengths, train_data.labels, tcfg.batch_size, rng, tcfg.batching):
                pieces = micro_batches(batch_idx, lengths) if tcfg.micro_batching == "auto" else [batch_idx]
                norm = _loss_normaliser([train_data.labels[i] for i in batch_idx], weight)
                for piece in pieces:
                    padded = collate([train_data.ids[i] for i in piece], tokenizer.pad_token_id)
                    y = batch_labels([train_data.labels[i] for i in piece], padded["input_ids"].shape[1])
                    batch, y = to_device(padded, dev), to_device({"y": y}, dev)["y"]
                    with autocast(dev, bf16):
                        logits = model(**batch).logits
                    loss = loss_sum(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1)) / norm
                    scaler.scale(loss).backward()
                    run_loss += loss.detach()
                if pairs is not None:
                    loss = pairs.loss(model, pair_rng, tokenizer.pad_token_id, dev, bf16)
                    scaler.scale(loss).backward()
                    align_loss += loss.detach()
                scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                scaler.step(opt)
                scaler.update()
                sched.step()
                opt.zero_grad(set_to_none=True)
                steps += 1
                seen += len(batch_idx)
                bar.update(1)
            entry = {"epoch": epoch, "loss": run_loss.item() / steps_per_epoch}
            if pairs is not None:
                entry["align_loss"] = align_loss.item() / steps_per_epoch
            validate_now = epoch % math.ceil(epochs / max(tcfg.max_validations, 1)) == 0 or epoch == epochs
            if val_data is not None and tcfg.patience > 0 and validate_now:
                f1 = validate(model) if validate else validation_macro_f1(model, tokenizer, val_data, tcfg)
                entry["val_score"] = f1
                if f1 > best:
                    best, best_epoch, bad_epochs = f1, epoch, 0
                    best_state = method.trainable_state(model)
                else:
                    bad_epochs += 1
            history.append(entry)
            bar.set_postfix(entry)
            if val_data is not None and tcfg.patience > 0 and bad_epochs >= tcfg.patience:
                break
        bar.close()
    if best_state is not None:
        method.load_trainable_state(model, best_state)
    return TrainResult(best_epoch, best if best >= 0 else None, len(history), steps, seen,
                       time.perf_counter() - start, history)


def _loss_normaliser(labels: list, weight: torch.Tensor | None) -> float:
    """What `nn.CrossEntropyLoss`'s mean divides by for this batch: its labelled targets (per word for
    token tasks, -100 ignored), each counted by its class weight when the loss is weighted."""
    ys = [y for lab in labels for y in (lab if isinstance(lab, list) else [lab]) if y != -100]
    total = sum(float(weight[y]) for y in ys) if weight is not None else float(len(ys))
    return max(total, 1e-12)  # no labelled target: the summed loss is 0 as well


def _class_weights(labels: list, k: int) -> torch.Tensor:
    flat = [y for lab in labels for y in (lab if isinstance(lab, list) else [lab])]
    counts = np.bincount([y for y in flat if y >= 0], minlength=k).astype(float)
    return torch.tensor(counts.sum() / (k * np.maximum(counts, 1)), dtype=torch.float)


def validation_macro_f1(model, tokenizer, val_data: Encoded, tcfg) -> float:
    pred, _ = predict_encoded(model, tokenizer, val_data.ids, prediction_batch_size(tcfg), use_bf16(tcfg.bf16))
    keep = [i for i, y in enumerate(val_data.labels) if y >= 0]
    return macro_f1([val_data.labels[i] for i in keep], [int(pred[i]) for i in keep])


@torch.inference_mode()
def predict_encoded(model, tokenizer, ids: list[list[int]], batch_size: int = 64, bf16: bool = False):
    """Class ids and probabilities, in input order; batches sorted by length."""
    model.eval()
    dev = next(model.parameters()).device

    def logits_of(batch: dict[str, torch.Tensor]) -> torch.Tensor:
        with autocast(dev, bf16):
            return model(**to_device(batch, dev)).logits

    return predict_batches(logits_of, ids, tokenizer.pad_token_id, model.config.num_labels, batch_size)


def predict_batches(logits_of, ids: list[list[int]], pad_id: int, num_labels: int, batch_size: int = 64):
    """Class ids and probabilities, in input order, from `logits_of(padded batch)`: batches of similar
    length (little padding), shared by the PyTorch and the ONNX Runtime paths."""
    probs = np.zeros((len(ids), num_labels), dtype=np.float32)
    for batch_idx in length_grouped_batches([len(x) for x in ids], batch_size, None):
        logits = torch.as_tensor(logits_of(collate([ids[i] for i in batch_idx], pad_id)))
        probs[batch_idx] = torch.softmax(logits.float(), -1).cpu().numpy()
    return probs.argmax(1), probs


_FEATURES: dict[tuple, torch.Tensor] = {}  # (model path, token ids) -> pooled feature of the frozen encoder
FEATURE_BUCKET = 8  # frozen features: each text padded to a multiple of this many tokens


@torch.inference_mode()
def pooled_features(model, tokenizer, ids: list[list[int]], batch_size: int = 64) -> torch.Tensor:
    """Mean-pooled outputs of a frozen encoder. The encoder never changes under the frozen method,
    so each text is encoded once per process and reused by every run, strategy and seed.

    A text's feature must not depend on which other texts were encoded with it, or a resumed run (which
    encodes other sets together) would differ from an uninterrupted one in the last digits, enough to flip a
    logistic-regression fit's choice of C. So each text is padded to a multiple of FEATURE_BUCKET tokens
    (within the model's positions) and batched only with texts padded alike: its result is then the same,
    bit for bit, in whatever batch it lands (measured on CPU, tests/test_training_batches.py), at about the
    cost of length-sorted batches."""
    from xlt.models.modeling_meanpool import pool

    model.eval()
    dev = next(model.parameters()).device
    path, pooling = model.config._name_or_path, getattr(model.config, "xlt_pooling", "mean")
    keys = [(path, pooling, tuple(x)) for x in ids]
    from xlt.models.resolve import position_limit

    limit = position_limit(model.config) or 10**9
    buckets: dict[int, list[int]] = {}
    for i, k in enumerate(keys):
        if k not in _FEATURES:
            width = max(len(ids[i]), min(limit, -(-len(ids[i]) // FEATURE_BUCKET) * FEATURE_BUCKET))
            buckets.setdefault(width, []).append(i)
    for width, todo in sorted(buckets.items()):
        for start in range(0, len(todo), batch_size):
            rows = todo[start:start + batch_size]
            padded = collate([ids[i] for i in rows], tokenizer.pad_token_id, width)
            batch = to_device(padded, dev)
            hidden = model.base_model(**batch).last_hidden_state
            for i, f in zip(rows, pool(hidden, batch["attention_mask"], pooling).float().cpu()):
                _FEATURES[keys[i]] = f
    return torch.stack([_FEATURES[k] for k in keys]) if keys else torch.zeros((0, model.config.hidden_size))


@torch.inference_mode()
def predict_frozen(model, tokenizer, ids: list[list[int]], batch_size: int = 64):
    """Prediction for the frozen method: the head on cached features (same result as a full forward)."""
    model.eval()
    probs = torch.softmax(model.classifier(pooled_features(model, tokenizer, ids, batch_size)), -1).numpy()
    return probs.argmax(1), probs


def _train_head_on_features(model, method, tokenizer, train_data, val_data, tcfg, seed) -> TrainResult:
    """Frozen encoder: features once, then the head fitted as logistic regression (methods/frozen.py), on the
    vectors the head sees (the method's alignment maps target-language rows)."""
    start = time.perf_counter()
    x = method.head_features(pooled_features(model, tokenizer, train_data.ids, prediction_batch_size(tcfg)),
                             train_data.languages)
    xv = None
    if val_data is not None:
        xv = method.head_features(pooled_features(model, tokenizer, val_data.ids, prediction_batch_size(tcfg)),
                                  val_data.languages)
    grid = (train_data.head_c,) if train_data.head_c else C_GRID
    return _head_result(fit_logistic_head(model.classifier, x, train_data.labels, xv,
                                          val_data.labels if val_data is not None else None,
                                          tcfg.class_weighted_loss, seed, train_data.weights, grid), len(x), start)


def _head_result(fit: dict, n: int, start: float) -> TrainResult:
    return TrainResult(best_epoch=1, best_val_f1=fit["val_macro_f1"], epochs_run=1, steps=0, examples_seen=n,
                       seconds=time.perf_counter() - start, history=fit["history"], head_c=fit["C"])


@torch.inference_mode()
def head_inputs(model, tokenizer, ids: list[list[int]], batch_size: int = 64) -> torch.Tensor:
    """What the classification head sees for each text (the pooled encoder output), captured by a hook,
    so it works through any wrapper (peft, adapters) around the model."""
    model.eval()
    dev = next(model.parameters()).device
    feats = torch.zeros((len(ids), model.config.hidden_size))
    seen: list[torch.Tensor] = []
    hook = _classifier(model).register_forward_pre_hook(lambda _m, args: seen.append(args[0].float().cpu()))
    try:
        for batch_idx in length_grouped_batches([len(x) for x in ids], batch_size, None):
            batch = to_device(collate([ids[i] for i in batch_idx], tokenizer.pad_token_id), dev)
            seen.clear()
            model(**batch)
            feats[batch_idx] = seen[0]
    finally:
        hook.remove()
    return feats


def _classifier(model: nn.Module) -> nn.Module:
    """The top-level classification head module (peft wraps it, but its input is the same)."""
    for name, module in model.named_modules():
        if name.split(".")[-1] == "classifier":
            return module
    raise XltError("head_init: probe needs a model with a `classifier` head (sequence classification)")


def probe_head(model, tokenizer, train_data: Encoded, val_data: Encoded | None, tcfg, seed: int) -> TrainResult:
    """LP-FT's first step (Kumar et al., 2022): fit the head on the untouched encoder's features before
    fine-tuning, so the first updates do not bend the pretrained features toward a random head's errors:
    the features that carry across languages are distorted less."""
    seed_everything(seed)
    start = time.perf_counter()
    x = head_inputs(model, tokenizer, train_data.ids, prediction_batch_size(tcfg))
    xv = head_inputs(model, tokenizer, val_data.ids, prediction_batch_size(tcfg)) if val_data is not None else None
    probe = nn.Linear(x.shape[1], model.config.num_labels)
    result = _head_result(fit_logistic_head(probe, x, train_data.labels, xv,  # the frozen method's head recipe
                                            val_data.labels if val_data is not None else None,
                                            tcfg.class_weighted_loss, seed), len(x), start)
    with torch.no_grad():  # every copy of the head (peft keeps the original beside its trainable copy)
        for m in _classifier(model).modules():
            if isinstance(m, nn.Linear) and m.weight.shape == probe.weight.shape:
                m.weight.copy_(probe.weight)
                m.bias.copy_(probe.bias)
    return result
