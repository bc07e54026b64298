"""What an output folder already holds: the planned runs its store has finished, and the run identities
of stores written before the identity schema (xlt/identity.py), renamed so they resume."""
from __future__ import annotations

import json
import os

from xlt.errors import XltError
from xlt.identity import SCHEMA_VERSION, legacy_v1_hash
from xlt.store import RunKey, open_existing, read_meta


def finished_runs(ctx, keys: list[RunKey], run_ids: dict[RunKey, str]) -> tuple[set[str], dict[str, str]]:
    """(ids of planned runs already finished, {older run id: this version's} for a store written by an
    earlier xlt). Stops before a changed config adds its runs beside old ones made with other settings:
    one table would hold two recipes."""
    db = ctx.out / "results.sqlite"
    if not db.exists():
        return set(), {}
    with open_existing(db) as con:
        done = {tuple(r[1:]): r[0] for r in con.execute(
            "SELECT run_id, method, strategy, n, seed, dataset, language FROM runs WHERE status = 'done'")}
        schema = read_meta(con, "identity_schema")
    if schema is None:
        schema = 1 if done else SCHEMA_VERSION
    if schema > SCHEMA_VERSION:
        raise XltError(f"{db} was written by a newer xlt (run-identity schema {schema}; this one reads up to "
                       f"{SCHEMA_VERSION}); upgrade xlt, or give output.dir a new directory")
    renamed = {}
    if schema == 1:
        legacy = _legacy_ids(ctx, keys)
        renamed = {old: run_ids[k] for k, old in legacy.items() if done.get(_key(k)) == old}
        done = {key: renamed.get(run_id, run_id) for key, run_id in done.items()}
    stale = [k for k in keys if done.get(_key(k)) not in (None, run_ids[k])]
    if stale:
        older = (" It was written by an earlier xlt (run-identity schema 1), and its runs could not be matched "
                 "to this config." if schema == 1 else "")
        raise XltError(f"{ctx.out} already holds {len(stale)} finished run(s) made with different settings (first: "
                       f"{stale[0].label()}), and one report would mix the two.{older} Give output.dir a new "
                       f"directory, or delete {db} and {ctx.out / 'stages'} to start over")
    return set(done.values()) & set(run_ids.values()), renamed


def other_code_note(ctx, finished: set[str]) -> list[str]:
    """A line for the plan when finished runs it keeps were made by other xlt code: resuming keeps them (their
    settings match), so say so before the run rather than only in the report."""
    db = ctx.out / "results.sqlite"
    if not finished or not db.exists():
        return []
    from xlt.store import code_fingerprint

    with open_existing(db) as con:
        made_by = {r: json.loads(v or "{}").get("xlt_code") for r, v in con.execute(
            "SELECT run_id, versions FROM runs WHERE status = 'done'")}
    other = sum(made_by.get(r) != code_fingerprint() for r in finished)
    if not other:
        return []
    return [f"note: {other} of the {len(finished)} finished runs kept were made by other xlt code (or code not "
            "fingerprinted); the report flags the mix. To compare like with like, give output.dir a new directory"]


def _key(k: RunKey) -> tuple:
    return (k.method, k.strategy, k.n, k.seed, k.dataset, k.language)


def _legacy_ids(ctx, keys: list[RunKey]) -> dict[RunKey, str]:
    """The ids schema 1 gave these runs, where schema 1 would have read the same data."""
    if not _same_data_as_schema_1(ctx):
        return {}
    from xlt.protocol.strategies import STRATEGIES

    out = {}
    even = ctx.exp.protocol.self_training.quota in (None, "even")
    guarded = bool(ctx.exp.protocol.rare_class_guard or ctx.exp.protocol.prior_matching)
    for k in keys:
        roles = ctx.identity_roles(k)
        if not even and "self_training" in roles:
            continue  # schema 1 self-trained with an even share of pseudo-labels per class
        if guarded and "few_shot" in roles:
            continue  # schema 1 had no rare-class guard or prior matching
        target = ctx.data_for(k)
        cfg = None if target is ctx.source else ctx.target_config(target)
        out[k] = k.run_id(legacy_v1_hash(ctx.exp, k.method, cfg, ctx.labels))
    return out


def _same_data_as_schema_1(ctx) -> bool:
    """Schema 1 ignored train_limit on texts and split token files 80/10/10 at random: a store written then
    with either holds runs on other data than this version reads."""
    schema_1_ratios = {"train": 0.7, "validation": 0.15, "test": 0.15}
    if ctx.exp.source is None:  # several sources came after schema 1
        return False
    for cfg, data in zip([ctx.exp.source, *ctx.exp.targets], [ctx.source, *ctx.targets]):
        if data.kind == "text" and cfg.train_limit:
            return False
        if data.made_splits and (data.kind == "tokens" or (not cfg.split_ratios and not _dataset_ratios(cfg)
                                                           and ctx.exp.split_ratios != schema_1_ratios)):
            return False
    return True


def _dataset_ratios(cfg) -> dict | None:
    from xlt.data.registry import get_spec

    return get_spec(cfg.dataset).split_ratios if cfg.dataset else None


def rename_legacy(ctx, renamed: dict[str, str]) -> None:
    """Give a schema-1 store's matched runs and source stages this version's identities (one transaction for
    the store; each stage file renamed atomically), and record the schema."""
    if renamed:
        ctx.store.rename_runs(renamed)
        _rename_stages(ctx)
    ctx.store.set_meta("identity_schema", SCHEMA_VERSION)


def _rename_stages(ctx) -> None:
    stages = ctx.stages
    methods = [m.name for m in ctx.exp.method_list()]
    select = [ctx.source] + (ctx.targets if ctx.exp.protocol.zero_shot_selection == "target" else [])
    for method in methods:
        for seed in ctx.exp.protocol.seeds:
            for on in select:
                new = stages.path(method, seed, on)
                cfg = None if on is ctx.source else ctx.target_config(on)
                old = new.with_name(f"{legacy_v1_hash(ctx.exp, method, cfg, ctx.labels)}" + new.name[16:])
                for suffix in (".json", ".safetensors"):  # the weights last: a stage exists once they do
                    src, dst = old.with_suffix(suffix), new.with_suffix(suffix)
                    if src.exists() and not dst.exists():
                        os.replace(src, dst)
