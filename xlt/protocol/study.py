"""Several source sets in one config: `sources:` resolved into groups, each an ordinary experiment with
one source set (a language, or a joint set) and the targets it transfers to.

- `sources: [a, b]` (pooled): one group, trained on a and b together, for every target; a target among
  its own sources is an error.
- `languages: all-but-target` (pooled): leave-one-out, one group per target, trained on every other
  language of the benchmark (targets with the same source set share a group).
- `combine: each`: the single-source transfer matrix, one group per source language, for every target
  but itself.
- `combine: merge`: as pooled (or leave-one-out), but each source trains its own stage and the stages are
  merged (xlt/protocol/merge.py); with ranker weights, one group per target.

`models:` repeats all of this per model: each model's groups live under a folder named after the model,
with its own source stages (a stage's file name holds a hash of its settings, the model among them).

Groups write their stores in sub-folders of the output folder and share one `stages/` folder, so a
source stage is trained once wherever source sets coincide, and a group is resumable like any run.
Every group is checked before anything is written.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from xlt.config import DataSource, Experiment, Sources, model_display_name
from xlt.errors import XltError
from xlt.files import atomic_write_text

STUDY_FILE = "study.json"  # in the output folder: the groups, read by the study report


@dataclass
class Group:
    name: str  # the source set in tables: a language code, eng+ind, all-but-hau
    folder: str | None  # sub-folder of the output folder (None: the output folder itself)
    exp: Experiment
    model: str | None = None  # the model's name when the config compares several (`models:`)


def language_id(ds: DataSource) -> tuple:
    """What makes two data sources the same language of the same data (a named benchmark's language
    given by its code or by the dataset's own name for it)."""
    if ds.dataset:
        from xlt.data.registry import get_spec, language_code

        spec = get_spec(ds.dataset)
        return ds.dataset, language_code(spec, ds.language or next(iter(spec.languages)))
    return ("files", ds.model_dump_json(exclude={"name", "train_limit", "label_map", "unlabelled"}))


def source_key(ds: DataSource) -> str:
    """dataset/language for a named benchmark, else the files' display name and their language, the way runs
    name their targets (messages, study.json, transfer read back for ranking)."""
    if ds.dataset:
        return "/".join(language_id(ds))
    return f"{ds.display_name()}/{ds.language}" if ds.language else ds.display_name()


def _short(ds: DataSource) -> str:
    """A source's name in tables and folder names: its language code (own files: their language too)."""
    return language_id(ds)[1] if ds.dataset else ds.language


def _check_names(sources: list[DataSource]) -> None:
    names = [_short(s) for s in sources]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise XltError(f"two sources have language {twice[0]!r} (two datasets of one language?); a study names "
                       "source sets by language, so give each source set its own config")


def _benchmark_languages(sources: Sources) -> list[DataSource]:
    from xlt.data.registry import get_spec

    codes = list(get_spec(sources.dataset).languages) if sources.languages in ("all", "all-but-target") \
        else sources.languages
    return [DataSource(dataset=sources.dataset, language=c, train_limit=sources.train_limit) for c in codes]


def _check_unique(sources: list[DataSource]) -> None:
    seen: dict[tuple, int] = {}
    for i, ds in enumerate(sources):
        ident = language_id(ds)
        if ident in seen:
            raise XltError(f"source {source_key(ds)} is listed "
                           f"twice in sources: (entries {seen[ident] + 1} and {i + 1}); list each source once")
        seen[ident] = i


def source_groups(exp: Experiment) -> list[Group]:
    """The groups a config runs: itself for a single source and model."""
    if exp.models:
        groups = []
        for entry in exp.models:
            name = model_display_name(entry)
            for g in source_groups(exp.model_copy(update={"model": entry, "models": []})):
                groups.append(Group(g.name, f"{name}/{g.folder}" if g.folder else name, g.exp, name))
        return groups
    cfg = exp.sources
    if cfg is None:
        return [Group(_short(exp.source), None, exp)]
    leave_out = cfg.languages == "all-but-target"
    candidates = list(cfg.data) + (_benchmark_languages(cfg) if cfg.languages is not None else [])
    _check_unique(candidates)
    if cfg.combine == "each":
        _check_names(candidates)
        groups = []
        for s in candidates:
            targets = [t for t in exp.targets if language_id(t) != language_id(s)]
            if targets:
                groups.append(Group(_short(s), f"from-{_short(s)}",
                                    exp.model_copy(update={"source": s, "sources": None, "targets": targets})))
        return groups
    by_set: dict[tuple, list[DataSource]] = {}
    for t in exp.targets:
        srcs = [s for s in candidates if not (leave_out and language_id(s) == language_id(t))]
        if not leave_out and any(language_id(s) == language_id(t) for s in srcs):
            raise XltError(f"target {source_key(t)} is one of its own "
                           "sources; remove it from sources:, or use languages: all-but-target to leave each target "
                           "out of its own source set")
        per_target = cfg.combine == "merge" and cfg.merge_weights == "heuristic"  # weights depend on the target
        key = tuple(language_id(s) for s in srcs) + ((("target",) + language_id(t),) if per_target else ())
        by_set.setdefault(key, []).append(t)
    groups = []
    for ids, targets in by_set.items():
        srcs = [next(s for s in candidates if language_id(s) == i) for i in ids if i[0] != "target"]
        if not srcs:
            raise XltError("no source is left for a target; sources: needs at least one language besides it")
        if leave_out:
            name = "all-but-" + "+".join(_short(t) for t in targets)  # one per target: never the config's name
        else:
            name = cfg.name or "+".join(_short(s) for s in srcs)
            if len(by_set) > 1:
                name = f"{name}-to-{'+'.join(_short(t) for t in targets)}"
        resolved = cfg.model_copy(update={"data": srcs, "dataset": None, "languages": None, "train_limit": None,
                                          "name": name})
        update = {"sources": resolved, "targets": targets} if len(srcs) > 1 or cfg.combine == "merge" else \
            {"source": srcs[0], "sources": None, "targets": targets}
        folder = name if leave_out or len(by_set) > 1 else None
        if cfg.combine == "merge" and folder:
            folder = name = f"merged-{name}"
        groups.append(Group(name, folder, exp.model_copy(update=update)))
    return groups


def check_study(groups: list[Group], data_dir: str | None, out: Path) -> list:
    """Every group's checks (xlt/protocol/plan.py), each language read once; writes nothing."""
    from xlt.protocol.plan import check_experiment, reading_once

    with reading_once():
        return [check_experiment(g.exp, data_dir, str(out / g.folder) if g.folder else str(out), out / "stages")
                for g in groups]


def write_study(out: Path, exp: Experiment, groups: list[Group]) -> None:
    """The groups of a study, for its report and for `xlt.Results`."""
    cfg = exp.sources
    atomic_write_text(out / STUDY_FILE, json.dumps({
        "name": exp.name, "task": exp.task, "combine": cfg.combine if cfg else "single",
        "leave_one_out": bool(cfg and cfg.languages == "all-but-target"),
        "models": list(dict.fromkeys(g.model for g in groups if g.model)),
        "groups": [{"name": g.name, "folder": g.folder or ".", "model": g.model,
                    "sources": [source_key(s) for s in g.exp.source_list()],
                    "targets": [source_key(t) for t in g.exp.targets]} for g in groups]}, indent=1))


def read_study(out: Path) -> dict | None:
    path = Path(out) / STUDY_FILE
    return json.loads(path.read_text()) if path.exists() else None
