"""Every check a run makes before its first write, and the runs a config asks for.

`check_experiment` resolves the model, loads every language through the data pipeline, checks each
method against the model and the data, plans the runs and reads which of them the output folder's
store already holds. It writes nothing, so `xlt run --dry-run` is this function plus a summary.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from xlt.config import PREPROCESS_ABLATION_DIR, Experiment
from xlt.data.checks import data_warnings
from xlt.data.lexicons import load_dictionaries
from xlt.data.examples import LanguageData
from xlt.data.multi_source import combine_sources
from xlt.data.pipeline import load_language, remembering_reads
from xlt.data.silver_dates import silver_tags_for
from xlt.errors import XltError
from xlt.files import check_output_dir
from xlt.methods import get_method
from xlt.protocol.context import Context
from xlt.protocol.resume import finished_runs, other_code_note
from xlt.protocol.stages import SourceStages
from xlt.protocol.strategies import STRATEGIES, ordered
from xlt.store import RunKey
from xlt.tasks import get_task


def load_data(exp: Experiment, data_dir: str | None, task) -> tuple[LanguageData, list[LanguageData], list[str]]:
    """Source (a joint source: its parts, combined) and targets through the data pipeline, and the lines of
    the data report."""
    lines = [f"split policy: splits a dataset lacks are made {_ratios(exp.split_ratios)}, stratified by label "
             f"(sentences: at random), seed {exp.split_seed}; a source's own split_ratios come first", ""]
    sources = [exp.source] if exp.sources is None else exp.sources.data
    loaded: list[LanguageData] = []
    for i, src in enumerate([*sources, *exp.targets]):
        is_target = i >= len(sources)
        known = loaded[0].labels if is_target and task.data_kind == "text" else None  # the source's labels
        ld, rep = _load(src, exp, data_dir, task, known)
        lines += [f"## {ld.key()}{'' if is_target or exp.sources is None else ' (a source)'}", *rep,
                  *[f"note: {n}" for n in ld.notes], *silver_tags_for(exp, src, ld),
                  "splits: " + ", ".join(f"{k} {len(v)}" for k, v in ld.splits.items()), ""]
        loaded.append(ld)
        if not is_target and i == len(sources) - 1 and exp.sources is not None:  # the parts drawn into one source
            s = exp.sources
            loaded = [combine_sources(loaded, s.name or "+".join(p.language for p in loaded), s.sampling, s.tau,
                                      s.eval_limit, exp.split_seed)]
            lines += [f"## {loaded[0].key()} (the joint source)", *loaded[0].notes,
                      "splits: " + ", ".join(f"{k} {len(v)}" for k, v in loaded[0].splits.items()), ""]
    source, targets = loaded[0], loaded[1:]
    if not source.splits["train"]:
        raise XltError(f"the source {source.key()} has no training data; give its files: {{train: ...}}")
    lines += [f"warning: {w}" for w in data_warnings(source, targets)]
    return source, targets, lines


_SHARED: dict | None = None  # while a study checks its groups: each file read and the model loaded once


@contextmanager
def reading_once():
    """Within this block each data file is read once (xlt/data/pipeline.py) and the model resolved once:
    the groups of a study read the same languages with the same model."""
    global _SHARED
    if _SHARED is not None:  # already inside one
        yield
        return
    _SHARED = {}
    try:
        with remembering_reads():
            yield
    finally:
        _SHARED = None


def _load(src, exp: Experiment, data_dir, task, known) -> tuple[LanguageData, list[str]]:
    return load_language(src, exp.preprocess, data_dir or exp.data_dir, exp.split_ratios, exp.split_seed,
                         entity_tags=task.entity_types or None, known_labels=known, kind=task.data_kind)


def _model(model):
    """The resolved model and its tokenizer (once per study)."""
    from xlt.models import resolve

    name = model if isinstance(model, str) else model.model_dump_json()
    if _SHARED is not None and name in _SHARED:
        return _SHARED[name]
    spec = resolve(model)
    out = (spec, spec.tokenizer())
    if _SHARED is not None:
        _SHARED[name] = out
    return out


def _ratios(r: dict[str, float]) -> str:
    return "/".join(f"{v:g}" for v in r.values()) + " " + "/".join(r)


def plan(ctx: Context, method: str) -> list[RunKey]:
    """Every run the config asks for with one method (or baseline), the source-language reference first."""
    p = ctx.exp.protocol
    chosen = [STRATEGIES.get(name) for name in p.strategies]
    reference = next(s for s in STRATEGIES if s.scores_source)
    from xlt.baselines import BASELINES

    baseline = method in BASELINES
    keys: list[RunKey] = []
    for seed in p.seeds:
        if any(s.from_source for s in chosen):
            keys.append(RunKey(method, reference.name, None, seed, ctx.source.dataset, ctx.source.language))
        for t in ctx.targets:
            n_train = len(t.splits["train"])
            for s in chosen:
                if (baseline and not s.baselines) or s.unavailable(ctx, t):
                    continue
                if s.needs_target_train and n_train == 0:
                    free = [x.name for x in ordered() if x.selectable and not x.needs_target_train]
                    raise XltError(f"{t.key()} has no training data, so {s.name} (which trains on its labels) is "
                                   f"impossible; a target with a test split alone can be used with {', '.join(free)} "
                                   "(a separate config), or give its files: {train: ...}")
                if not s.uses_shots:
                    keys.append(RunKey(method, s.name, None, seed, t.dataset, t.language))
                    continue
                for n in sorted(p.shots):
                    if n > n_train:
                        if p.skip_shots_above_train or "shots" not in p.model_fields_set:
                            continue  # the default sizes adapt to the data; check_experiment notes it
                        raise XltError(f"few-shot N={n} is larger than the {n_train} training examples of "
                                       f"{t.key()}; lower protocol.shots or set skip_shots_above_train: true")
                    keys.append(RunKey(method, s.name, n, seed, t.dataset, t.language))
    return keys


@dataclass
class Plan:
    """A config that has passed every check: its loaded data, its runs, and which are finished already."""

    ctx: Context
    keys: list[RunKey]
    run_ids: dict[RunKey, str]
    finished: set[str]
    report: list[str]  # the lines of data_report.txt
    renamed: dict[str, str]  # run ids of an older store -> this version's (applied when the run starts)
    notes: list[str]  # what the plan left out, and why
    data_dir: str | None = None  # the data mirror it was checked with (a Ray worker checks the same)

    @property
    def todo(self) -> list[RunKey]:
        return [k for k in self.keys if self.run_ids[k] not in self.finished]

    def summary(self) -> str:
        """What `xlt run` would do: runs per method, strategy and N, and how many are finished."""
        ex, out = self.ctx.exp, self.ctx.out
        todo = len(self.todo)
        lines = [f"{ex.name}: every check passed. {len(self.keys)} runs ({todo} to run, "
                 f"{len(self.keys) - todo} finished) in {out}; seeds {ex.protocol.seeds}, source "
                 f"{self.ctx.source.key()}, {len(self.ctx.targets)} target(s): "
                 + ", ".join(t.key() for t in self.ctx.targets)]
        groups: dict[tuple, list[RunKey]] = {}
        for k in self.keys:
            groups.setdefault((k.method, k.strategy, k.n), []).append(k)
        for (method, strategy, n), ks in groups.items():
            done = sum(self.run_ids[k] in self.finished for k in ks)
            setting = strategy + (f" N={n}" if n else "")
            lines.append(f"  {method:<13} {setting:<28} {len(ks):>4} run{'s' * (len(ks) != 1)}, {done} finished")
        lines += [f"  {n}" for n in self.notes]
        if self.renamed:
            lines.append(f"  {len(self.renamed)} finished run(s) in a store written by an earlier xlt are matched "
                         "and will be renamed to this version's run identities")
        if ex.ablate_preprocessing:
            lines.append(f"  and the same again without text rewriting, in {out / PREPROCESS_ABLATION_DIR}")
        return "\n".join(lines)


def check_experiment(exp: Experiment, data_dir: str | None = None, output_dir: str | None = None,
                     stages_dir: Path | None = None) -> Plan:
    """Every check a run makes before its first write, and the runs it would make; writes nothing.

    Bad input (a missing file, a label map that misses a label, a LoRA layer the model lacks, N above a
    training set, a store holding other settings) ends here in one XltError."""
    task = get_task(exp.task)
    out = Path(output_dir or exp.output.dir)
    check_output_dir(out)  # before any work: an output folder that cannot be written fails now
    switch_words, switch_lines = None, []
    if exp.augment.code_switch is not None:  # a missing word list fails before anything is written
        switch_words, switch_lines = load_dictionaries(exp.augment.code_switch.dictionaries, data_dir or exp.data_dir)
    source, targets, report = load_data(exp, data_dir, task)  # the data before the model: its errors come first
    if switch_lines:
        report += ["## code-switching dictionaries (augment.code_switch)", *switch_lines, ""]
    labels = sorted(set(source.labels).union(*[t.labels for t in targets]))
    if exp.positive_label is not None and exp.positive_label not in labels:
        raise XltError(f"positive_label {exp.positive_label!r} is not one of the labels {labels}; use one of them")

    from xlt.train import set_threads

    set_threads(exp.training.threads)
    spec, tokenizer = _model(exp.model)
    limit = spec.max_tokens()
    if limit is not None and exp.training.max_length > limit:
        raise XltError(f"training.max_length {exp.training.max_length} is longer than {exp.model_name()} can read "
                       f"({limit} tokens, its position embeddings); set training.max_length to {limit} or less")
    methods = {m.name: get_method(m, task) for m in exp.method_list()}
    for m in methods.values():
        m.check(spec)
    ctx = Context(exp, out, spec, tokenizer, task, labels, source, targets, methods, switch_words,
                  data_dir=data_dir or exp.data_dir)
    ctx.stages = SourceStages(ctx, stages_dir)
    for m in methods.values():
        m.setup(ctx)
    if exp.training.align_loss is not None:
        from xlt.align.loss import pair_batches

        ctx.align_pairs = pair_batches(ctx)
    if exp.translation is not None:
        from xlt.translate import get_translator

        ctx.translator = get_translator(exp.translation.translator, data_dir or exp.data_dir)
        report += ["## translation", f"translator: {ctx.translator.label()}", ""]
    for name in exp.protocol.strategies:
        STRATEGIES.get(name).check(ctx)
    # seed by seed (every method of seed 0 first), so an interrupted comparison is complete for the seeds it has
    keys = [k for b in exp.baselines for k in plan(ctx, b)] + sorted(
        (k for m in exp.method_list() for k in plan(ctx, m.name)), key=lambda k: k.seed)
    run_ids = {k: k.run_id(ctx.run_hash(k)) for k in keys}
    finished, renamed = finished_runs(ctx, keys, run_ids)
    skipped = _skipped_shots(exp, targets) + [
        f"note: {name} skipped for {t.key()}: {why}" for name in exp.protocol.strategies for t in targets
        if (why := STRATEGIES.get(name).unavailable(ctx, t))]
    warnings = [line for line in report if line.startswith("warning: ")] + other_code_note(ctx, finished)
    return Plan(ctx, keys, run_ids, finished, report + skipped, renamed, skipped + warnings, data_dir)


def _skipped_shots(exp: Experiment, targets: list[LanguageData]) -> list[str]:
    """Few-shot sizes above a target's training set, which the plan leaves out (default sizes, or
    skip_shots_above_train)."""
    p = exp.protocol
    if not any(STRATEGIES.get(s).uses_shots for s in p.strategies):
        return []
    lines = []
    for t in targets:
        above = [n for n in sorted(p.shots) if n > len(t.splits["train"])]
        if above and t.splits["train"]:
            why = "the default sizes adapt to the data" if "shots" not in p.model_fields_set else \
                "skip_shots_above_train"
            lines.append(f"note: few-shot N={', '.join(map(str, above))} skipped for {t.key()}, which has "
                         f"{len(t.splits['train'])} training examples ({why})")
    return lines
