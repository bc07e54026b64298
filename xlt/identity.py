"""Run identity: what a saved result depends on, read from the settings' own declarations.

Each config setting declares a role (xlt/settings.py): "stage" settings identify the source stage and
every run, "run" settings identify runs only, "key" and "none" settings identify nothing (the run key
holds seeds, strategies and shots), and "translation" settings identify the runs of strategies that
translate. A run's hash covers the stage and run settings, its own method's
settings, its own target and the label set; a source stage's hash covers the stage settings and its
method's. So adding a seed, an N, a target or a method to a finished config runs only what is new, on
the saved source stages; changing a target-stage setting (lr_continue) reuses the source stages.

The store records SCHEMA_VERSION. Stores written before the schema existed (version 1: one flat method
section, every key hashed) are recognised through `legacy_v1_hash` and renamed to this version's
identities, so they resume with no run repeated.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel

from xlt.tasks import get_task

SCHEMA_VERSION = 2


def _digest(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def identity_settings(model: BaseModel, roles: tuple[str, ...]) -> dict:
    """The settings of `model` (recursively) whose declared role is one of `roles`; a setting declared
    with `omit_when` is left out at that value."""
    out: dict[str, Any] = {}
    for name, field in type(model).model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        role = extra.get("identity", "stage")
        value = getattr(model, name)
        if role not in roles or ("omit_when" in extra and _plain(value) == extra["omit_when"]):
            continue
        if isinstance(value, BaseModel):
            out[name] = identity_settings(value, roles)
        else:
            out[name] = _plain(value)
    return out


def _plain(value: Any) -> Any:
    """A JSON-able copy (pydantic models inside lists and dicts dumped)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def run_hash(exp, method: str, target, labels: list[str], extra_roles: tuple[str, ...] = ()) -> str:
    """The hash in a run's id. `target` is None for the source stage (and its evaluation); `method` may
    name a baseline (tfidf-lr, embedding-lr), whose settings are its name; `extra_roles` are the roles a
    strategy adds (translation settings identify only the runs that translate)."""
    roles = ("stage",) if target is None else ("stage", "run", *extra_roles)
    cfg = next((m for m in exp.method_list() if m.name == method), None)
    return _digest({"schema": SCHEMA_VERSION, "settings": identity_settings(exp, roles),
                    "method": identity_settings(cfg, roles) if cfg is not None else method,
                    "labels": labels, "target": target.model_dump(mode="json") if target is not None else None})


# --- version 1 (stores written before the schema was declared) -------------------------------------------

# the flat `method:` section of version 1: every method's keys, with their defaults
_V1_METHOD = {"r": 8, "alpha": 16, "dropout": 0.1, "target_modules": ["query", "value"], "freeze_embeddings": True,
              "task_reduction": 16, "lang_reduction": 2, "lang_steps": 1000, "lang_lr": 5e-4, "head_steps": 300}
_V1_TOP = ("name", "task", "model", "source", "preprocess", "protocol", "training", "augment", "data_dir",
           "split_seed", "collapse_recall")
_V1_SELF_TRAINING = {"rounds": 3, "fraction": 0.6}
_V2_PROTOCOL_ADDED = {"ensemble": "none", "label_shift": "none", "label_shift_strength": 0.0, "collapse_guard": None,
                      "cv_folds": 5, "meta": None}
_V2_PROTOCOL_ONLY = ("lapt",)  # sections read only by strategies schema 1 did not have


def legacy_v1_hash(exp, method: str, target, labels: list[str]) -> str:
    """The hash version 1 gave the same run (the rules of the code that wrote those stores, kept as they were)."""
    d = {k: v for k, v in exp.model_dump(mode="json").items() if k in _V1_TOP}
    pre, proto, tr, aug = d["preprocess"], d["protocol"], d["training"], d["augment"]
    if pre.get("rewrite_text", True):
        pre.pop("rewrite_text", None)
    for key, dropped_at in (("head_init", "random"), ("fast_dropout", "off"), ("micro_batching", "off")):
        if tr.get(key) == dropped_at:
            tr.pop(key)
    if tr.get("eval_batch_size") is None:  # the device's default since; schema 1 wrote its fixed 64
        tr["eval_batch_size"] = 64
    if tr.get("align_loss", 0) is None:  # added since, unset: the behaviour schema 1 had
        tr.pop("align_loss")
    tokens = get_task(d["task"]).data_kind == "tokens"
    if tr.get("batching") == "length" or (tr.get("batching") == "stratified" and tokens):
        tr.pop("batching")
    st = proto.get("self_training", {})
    for key in ("epochs", "lr"):
        if st.get(key, 0) is None:
            st.pop(key)
    proto.pop("rare_class_guard", None)  # schema 1 had none: resume matches no few-shot run while it is on
    proto.pop("prior_matching", None)  # the same
    st.pop("quota", None)  # schema 1 had none: it kept an even share (resume matches no run of another quota)
    if st == _V1_SELF_TRAINING:
        proto.pop("self_training")
    if not aug.get("silver_tags"):
        aug.pop("silver_tags", None)
    if aug == {"code_switch": None}:
        d.pop("augment")
    for key in ("seeds", "strategies", "shots", "skip_shots_above_train"):
        proto.pop(key, None)
    for key, before in _V2_PROTOCOL_ADDED.items():  # settings schema 1 never had, at their old behaviour
        if proto.get(key, before) == before:
            proto.pop(key, None)
    for key in _V2_PROTOCOL_ONLY:
        proto.pop(key, None)
    if target is None:
        tr["lr_continue"] = tr["epochs_continue"] = None
        proto.pop("self_training", None)
    cfg = next((m for m in exp.method_list() if m.name == method), None)
    if cfg is not None:
        flat = {**_V1_METHOD, **cfg.model_dump(mode="json")}
        drop = {k for k in ("lr", "lr_continue") if flat.get(k) is None} | ({"lr_continue"} if target is None else set())
        if flat.get("few_shot_choice") == "few_shot":
            drop.add("few_shot_choice")
        if "align" in flat and flat["align"] is None:  # the frozen method's alignment, added since
            drop.add("align")
        method_settings: Any = {k: v for k, v in flat.items() if k not in drop}
    else:
        method_settings = method
    d["run"] = {"method": method_settings, "labels": labels,
                "target": target.model_dump(mode="json") if target is not None else None}
    return _digest(d)
