"""The reference page (docs/reference.md), generated from the config models and the registries, so it
says what the code accepts: every config key with its type, default, what it identifies and its
description; every task, method and strategy with its declarations; every named dataset.

    xlt reference > docs/reference.md
"""
from __future__ import annotations

import sys
import types
import typing

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

IDENTITY = {"stage": "stage", "run": "run", "translation": "translating runs", "meta": "meta-learning runs",
            "lapt": "LAPT runs", "self_training": "self-training runs", "few_shot": "few-shot runs", "key": "run key",
            "none": "—"}


def _type(annotation) -> str:
    """An annotation as a reader would say it: "str or None", "list of int", "one of 'a', 'b'"."""
    from xlt.methods.base import MethodConfig

    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type(args[0])
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        if all(isinstance(a, type) and issubclass(a, MethodConfig) for a in map(_unwrap, args)):
            return "method section (see Methods)"
        return " or ".join(_type(a) for a in args)
    if origin in (list, tuple):
        return f"list of {_type(args[0])}" if args else "list"
    if origin is dict:
        return f"mapping {_type(args[0])} -> {_type(args[1])}" if args else "mapping"
    if annotation is type(None):
        return "None"
    return getattr(annotation, "__name__", str(annotation))


def _unwrap(annotation):
    return typing.get_args(annotation)[0] if typing.get_origin(annotation) is typing.Annotated else annotation


def _sections_in(annotation) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for a in typing.get_args(annotation) for m in _sections_in(a)]


def _default(field) -> str:
    if field.default_factory is not None:
        try:
            value = field.default_factory()
        except TypeError:
            return "(computed)"
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return "(section defaults)"
    return f"`{value!r}`" if value is not None else "unset"


def _cell(text: str) -> str:
    return " ".join((text or "").split()).replace("|", "\\|")


def _section_table(model: type[BaseModel], skip: tuple[str, ...] = (), inherited: str | None = None) -> list[str]:
    lines = ["| key | type | default | identifies | what it is |", "|---|---|---|---|---|"]
    for name, f in model.model_fields.items():
        if name in skip:
            continue
        extra = f.json_schema_extra if isinstance(f.json_schema_extra, dict) else {}
        role = IDENTITY[extra.get("identity", inherited or "stage")]
        if _sections_in(f.annotation) and "identity" not in extra and inherited is None:
            role = "(its keys)"
        lines.append(f"| `{name}` | {_cell(_type(f.annotation))} | {_cell(_default(f))} | {role} | "
                     f"{_cell(f.description or '')} |")
    return lines


def _walk(model: type[BaseModel], path: str, out: list[str], seen: set, inherited: str | None = None) -> None:
    """A section's table, then its sections'; a section declared with a role gives it to every key in it."""
    from xlt.methods.base import MethodConfig
    from xlt.translate.translators.base import TranslatorConfig

    if model in seen or issubclass(model, (MethodConfig, TranslatorConfig)):
        return
    seen.add(model)
    title = {"source": "`source` (and each of `targets`)"}.get(path, f"`{path}`")
    out += ["", f"### {title}" if path else "### Top level", ""]
    if model.__doc__ and model.__doc__ != BaseModel.__doc__:
        out += [" ".join(model.__doc__.split()), ""]
    out += _section_table(model, inherited=inherited)
    for name, f in model.model_fields.items():
        extra = f.json_schema_extra if isinstance(f.json_schema_extra, dict) else {}
        for section in _sections_in(f.annotation):
            _walk(section, f"{path}.{name}" if path else name, out, seen, extra.get("identity", inherited))


def config_reference() -> str:
    from xlt.config import Experiment
    from xlt.data.registry import DATASETS
    from xlt.methods import METHODS
    from xlt.methods.base import MethodConfig
    from xlt.protocol.strategies import ordered
    from xlt.tasks import TASKS
    from xlt.translate import TRANSLATORS

    out = ["# Reference", "",
           "Generated from the code by `xlt reference` (a test keeps this page equal to its output). "
           "\"Identifies\" says what a setting's value is part of (docs/concepts.md, \"Run identity\"): "
           "**stage** settings identify the source stage and every run, **run** settings the runs that "
           "continue it, **translating runs** settings the runs of translate-test and translate-train, "
           "**meta-learning runs** settings the runs of few_shot_meta, **LAPT runs** settings the runs of "
           "zero_shot_lapt, **self-training runs** settings the runs of self_training and few_shot_self_training, "
           "**few-shot runs** settings the runs of few_shot, "
           "**run key** settings are part of each run's key; — identifies nothing.",
           "", "## Config keys"]
    _walk(Experiment, "", out, set())
    out += ["", "## Methods (`method:` / `methods:`)", "",
            "Every method takes the keys below; a key another method has is an error naming the nearest valid key.", ""]
    out += _section_table(MethodConfig)
    for m in METHODS:
        doc = " ".join((sys.modules[m.__module__].__doc__ or "").split())
        lr = "the task's (see Tasks)" if isinstance(m.default_lr, property) else f"{m.default_lr:g}"
        out += ["", f"### `{m.name}`", "", doc, "", f"Learning rates: {lr} from the pretrained model, "
                f"{m.default_lr_continue:g} when continuing (`lr`, `lr_continue`, or training's, win).", ""]
        base = MethodConfig.model_fields  # a key of every method is listed again where this one changes its default
        own = [n for n, f in m.config.model_fields.items()
               if n not in base or (n != "name" and f.default != base[n].default)]
        out += _section_table(m.config, skip=tuple(n for n in m.config.model_fields if n not in own)) if own \
            else ["No keys of its own."]
        for name, f in m.config.model_fields.items():  # a method's own sections (frozen's align:)
            extra = f.json_schema_extra if isinstance(f.json_schema_extra, dict) else {}
            for section in _sections_in(f.annotation):
                _walk(section, f"method.{name}", out, set(), extra.get("identity"))
    out += ["", "## Translators (`translation.translator`)", ""]
    for t in TRANSLATORS:
        doc = " ".join((sys.modules[t.__module__].__doc__ or "").split())
        kinds = ", ".join(k for k, on in (("offline", t.offline), ("oracle (gold translations)", t.oracle),
                                          ("keeps a word alignment (token tasks)", t.aligns_words)) if on)
        out += ["", f"### `{t.name}`", "", doc, "", f"Works: {kinds or 'with the network for a hub id; offline from a local directory'}.", ""]
        own = [n for n in t.config.model_fields if n != "name"]
        out += _section_table(t.config, skip=("name",), inherited="translation") if own else ["No keys of its own."]
    out += ["", "## Strategies (`protocol.strategies`)", "",
            "| name | row title | from the source stage | one run per N | reads unlabelled target text | "
            "needs target training labels | baselines run it | default |", "|---|---|---|---|---|---|---|---|"]
    yes = {True: "yes", False: ""}
    for s in ordered():
        name = f"`{s.name}`" if s.selectable else f"`{s.name}` (added by itself)"
        out.append(f"| {name} | {s.title} | {yes[s.from_source]} | {yes[s.uses_shots]} | {yes[s.reads_unlabelled]} | "
                   f"{yes[s.needs_target_train]} | {yes[s.baselines]} | {yes[s.default]} |")
    out += ["", "## Tasks (`task:`)", "", "| name | data | primary metric | LoRA default (r, alpha, layers, lr) | "
            "baselines |", "|---|---|---|---|---|"]
    for t in TASKS:
        lora = f"{t.lora.r}, {t.lora.alpha}, {', '.join(t.lora.target_modules)}, {t.lora.lr:g}"
        data = "texts with a label" if t.data_kind == "text" else "words with a tag (CoNLL, CoNLL-U)"
        out.append(f"| `{t.name}` | {data} | {t.metric_name} | {lora} | {', '.join(t.baselines) or 'none'} |")
    out += ["", "## Named datasets (`dataset:`)", "",
            "| name | languages | data | citation | licence |", "|---|---|---|---|---|"]
    for d in DATASETS.values():
        kind = "tagged words" if d.format in ("conll", "conllu") else "labelled texts"
        out.append(f"| `{d.name}` | {', '.join(d.languages)} | {kind} | {_cell(d.citation)} | {_cell(d.licence)} |")
    return "\n".join(out) + "\n"
