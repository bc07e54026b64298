"""Language-adaptive pretraining (LAPT): masked-LM training of the encoder on a target language's unlabelled text
before the task's source stage (Ebrahimi and Kann 2021), or on every target's text pooled (`scope: targets`, the
multilingual adaptive fine-tuning of Alabi et al. 2022), which serves all the targets with one adapted encoder and
one source stage. The adapted encoder is saved under stages/ once per target language (or target set) and seed
(its word embeddings, which never change, are left out of the file), and the source stage trained from it is saved
like any other."""
from __future__ import annotations

import json
import math
import time

import torch

from xlt.data.examples import unlabelled_texts
from xlt.errors import XltError
from xlt.files import atomic_save_tensors, atomic_write_text, load_saved_tensors
from xlt.protocol.stages import stage_key

DEFAULT_LR = {"full": 5e-5, "lora": 5e-4}


def adapted_encoder(ctx, target, seed: int) -> tuple[dict[str, torch.Tensor], dict, str]:
    """(encoder weights relative to the encoder module, what to record, the adaptation's name and key, which
    name the source stage trained from it) for `target`: adapted to its own text, or to every target's."""
    cfg = ctx.exp.protocol.lapt
    languages = ctx.targets if cfg.scope == "targets" else [target]
    texts_of = {f"{t.dataset}/{t.language}": unlabelled_texts(t, "language-adaptive pretraining")
                for t in languages}
    texts = [x for part in texts_of.values() for x in part]
    name = target.language if cfg.scope == "target" else f"{len(languages)}-targets"
    if cfg.scope == "target":  # the key from before scope existed, so saved encoders are found again
        data = [len(texts), texts[:50]]
        what = [cfg.model_dump(mode="json", exclude={"scope"}), ctx.exp.training.max_length, *data]
    else:
        data = [[k, len(v), v[:50]] for k, v in texts_of.items()]
        what = [cfg.model_dump(mode="json"), ctx.exp.training.max_length, data]
    key = stage_key([str(ctx.spec.path), *what, seed])
    # the head is trained the same way whatever the seed and the adaptation's settings: one per text set
    head_key = stage_key([str(ctx.spec.path), cfg.head_steps, ctx.exp.training.max_length, data])
    path = ctx.stages.dir / f"lapt-{name}-seed{seed}-{key}.safetensors"
    if not path.exists():
        from xlt.methods._language_adapters import mlm_head

        head_path = ctx.stages.dir / f"mlm-head-{name}-{head_key}.safetensors"
        trained_head, start = not head_path.exists(), time.perf_counter()
        head, head_info = mlm_head(ctx.spec, ctx.tokenizer, lambda: texts, name, cfg.head_steps,
                                   ctx.exp.training, head_path)
        # None: a head an earlier adaptation on the same texts trained (another seed's)
        head_minutes = round((time.perf_counter() - start) / 60, 2) if trained_head else None
        state, info = adapt(ctx.spec, ctx.tokenizer, texts, cfg, ctx.exp.training, head, seed)
        info.update(language=name, mlm_head=head_info, mlm_head_minutes=head_minutes)
        if cfg.scope == "targets":
            info.update(texts_per_language={k: len(v) for k, v in texts_of.items()},
                        minutes_per_language=round(info["minutes"] / len(languages), 2))
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path.with_suffix(".json"), json.dumps(info))
        atomic_save_tensors(path, state)
    return load_saved_tensors(path), json.loads(path.with_suffix(".json").read_text()), f"{name}-{key}"


def adapt(spec, tokenizer, texts: list[str], cfg, training, head_state, seed: int):
    """Masked-LM training of the encoder (every weight but the word embeddings, or LoRA merged afterwards)."""
    from transformers import AutoConfig

    from xlt.methods._language_adapters import _load_mlm, masked_lm_steps
    from xlt.methods.lora import architecture_targets
    from xlt.train import device, seed_everything

    seed_everything(seed)
    dev = device()
    mlm = _load_mlm(spec, head_state)
    mlm.get_input_embeddings().weight.requires_grad_(False)
    if cfg.mode == "lora":
        from peft import LoraConfig, get_peft_model

        targets = architecture_targets(AutoConfig.from_pretrained(spec.path).model_type) or ["query", "value"]
        mlm = get_peft_model(mlm, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.1, target_modules=targets))
    mlm.to(dev).train()
    params = [p for p in mlm.parameters() if p.requires_grad]
    lr = cfg.lr or DEFAULT_LR[cfg.mode]
    losses, seconds = masked_lm_steps(mlm, params, tokenizer, texts, training, cfg.batch_size, cfg.steps, lr,
                                      training.weight_decay, seed, "language-adaptive pretraining")
    if cfg.mode == "lora":
        mlm = mlm.merge_and_unload()
    k = max(1, len(losses) // 10)
    info = {"mode": cfg.mode, "texts": len(texts), "steps": cfg.steps, "lr": lr,
            "minutes": round(seconds / 60, 2),
            "mlm_loss_first": sum(losses[:k]) / k, "mlm_loss_last": sum(losses[-k:]) / k}
    if math.isnan(info["mlm_loss_last"]):
        raise XltError(f"language-adaptive pretraining diverged (masked-LM loss {info['mlm_loss_last']}); lower "
                       "protocol.lapt.lr")
    words = mlm.base_model.get_input_embeddings().weight
    state = {k: v.detach().cpu().clone() for k, v in mlm.base_model.state_dict().items()
             if v.data_ptr() != words.data_ptr()}
    return state, info
