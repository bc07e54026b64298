"""X-MAML and language-adaptive pretraining against their plain strategies (BENCHMARKS.md, "Representation-level
methods"), on the same source stages:

    python bench/representation.py xmaml [--seeds 0 1 2] [--shots 50 100] [--output runs]  # few_shot_meta, few_shot
    python bench/representation.py lapt [--seeds 0 1 2] [--output runs]    # zero_shot_lapt against zero_shot
    python bench/representation.py lapt-ner [--seeds 0 1 2]   # the same on MasakhaNER 2.0, pooled over 20 languages
    python bench/representation.py lapt-ner-target [--seeds 0] [--languages bam yor]   # one language at a time
    python bench/representation.py xmaml-control [--seeds 0] [--shots 50] [--stages-from XMAML_FOLDER]
        # few_shot_meta with meta_lr 1 (the auxiliary tasks trained in sequence), tabled by xmaml --control
    python bench/representation.py xmaml-ranked [--seeds 0] [--shots 50] [--stages-from XMAML_FOLDER]
        # few_shot_meta on each target's top 3 of the ten other local languages by the zero-data source
        # ranker (protocol.meta.top_k), instead of the config's three; tabled by xmaml --ranked

Each runs its example config (examples/meta/nusax-xmaml.yaml, examples/lapt/nusax-lapt.yaml,
examples/lapt/masakhaner2-lapt-pooled.yaml, examples/lapt/masakhaner2-lapt.yaml) with the seeds given, resuming if interrupted, and prints the score per
language (macro-F1, or entity F1 for NER), the paired difference, and what the new strategy cost: LAPT's minutes,
or how often meta-training ran and how long. Seeds can run on separate cores into separate folders (`taskset -c 0
... --seeds 0 --output runs/s0`, `-c 1 ... --seeds 1 --output runs/s1`) and be tabled together with `--stores
runs/s0/meta/nusax-xmaml runs/s1/meta/nusax-xmaml` (or `lapt/NAME`), which runs nothing.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml
from _xlt_run import run_config

PARTS = {"xmaml": ("examples/meta/nusax-xmaml.yaml", "few_shot", "few_shot_meta"),
         # the control: Reptile with meta_lr 1 keeps every task's adapted weights, which is plain sequential
         # training on the same auxiliary tasks; is a gain meta-learning's, or the auxiliary labels'?
         "xmaml-control": ("examples/meta/nusax-xmaml.yaml", "few_shot", "few_shot_meta"),
         # the auxiliary languages chosen per target by the source ranker from NusaX's other local languages
         "xmaml-ranked": ("examples/meta/nusax-xmaml.yaml", "few_shot", "few_shot_meta"),
         "lapt": ("examples/lapt/nusax-lapt.yaml", "zero_shot", "zero_shot_lapt"),
         "lapt-ner": ("examples/lapt/masakhaner2-lapt-pooled.yaml", "zero_shot", "zero_shot_lapt"),
         # each language adapted on its own text (about an hour per language and seed on one core)
         "lapt-ner-target": ("examples/lapt/masakhaner2-lapt.yaml", "zero_shot", "zero_shot_lapt")}


def main() -> None:
    import xlt
    from xlt.evaluate.compare import paired_test
    from xlt.store import open_existing

    ap = argparse.ArgumentParser()
    ap.add_argument("part", choices=sorted(PARTS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--output", default="runs")
    ap.add_argument("--shots", type=int, nargs="+", help="few-shot N (xmaml; default: the config's)")
    ap.add_argument("--languages", nargs="+", help="only these target languages (default: the config's)")
    ap.add_argument("--stores", nargs="+", type=Path, help="run folders to table together (runs nothing)")
    ap.add_argument("--control", nargs="+", type=Path, help="xmaml: xmaml-control run folders to table beside "
                    "--stores, as few-shot after the same auxiliary tasks trained in sequence")
    ap.add_argument("--ranked", nargs="+", type=Path, help="xmaml: xmaml-ranked run folders to table beside "
                    "--stores, as X-MAML on each target's top 3 auxiliary languages by the source ranker")
    ap.add_argument("--stages-from", type=Path, help="xmaml-control, xmaml-ranked: an xmaml run folder whose "
                    "source stages to copy (the same weights, not retrained)")
    args = ap.parse_args()
    if ((args.control or args.ranked) and args.part != "xmaml") or \
            (args.stages_from and args.part not in ("xmaml-control", "xmaml-ranked")):
        ap.error("--control and --ranked go with xmaml --stores, --stages-from with xmaml-control or xmaml-ranked")
    if args.shots and (not args.part.startswith("xmaml") or min(args.shots) < 1):
        ap.error("--shots takes positive few-shot sizes N, and only for xmaml (lapt is zero-shot)")
    config, plain, new = PARTS[args.part]
    cfg = yaml.safe_load(Path(config).read_text())
    cfg["protocol"]["seeds"] = args.seeds
    if args.part == "xmaml-control":
        cfg["protocol"].update(strategies=[new])
        cfg["protocol"]["meta"]["meta_lr"] = 1.0
        cfg["name"] += "-control"
    if args.part == "xmaml-ranked":
        cfg["protocol"].update(strategies=[new])
        cfg["protocol"]["meta"].update(top_k=3, languages=[
            {"dataset": "nusax-senti", "language": lang}
            for lang in ("ace", "ban", "bbc", "bjn", "bug", "ind", "jav", "mad", "min", "nij", "sun")])
        cfg["name"] += "-ranked"
    if args.shots:
        cfg["protocol"]["shots"] = args.shots
    if args.languages:
        cfg["targets"]["languages"] = args.languages
    stores = args.stores or [Path(args.output) / Path(config).parent.name / cfg["name"]]
    beside = {"sequential": args.control or [], "ranked top 3": args.ranked or []}  # label -> folders
    missing = [str(d) for d in (args.stores or []) + [d for ds in beside.values() for d in ds]
               if not (d / "results.sqlite").exists()]
    if missing:
        ap.error(f"{', '.join(missing)} holds no results.sqlite; give the output folders of {args.part} runs")
    if args.stages_from:
        import shutil

        stages = sorted((args.stages_from / "stages").glob("*-source.*"))
        if not stages:
            ap.error(f"{args.stages_from} holds no source stages (stages/*-source.*); give an xmaml run folder")
        (stores[0] / "stages").mkdir(parents=True, exist_ok=True)
        for f in stages:
            shutil.copy2(f, stores[0] / "stages" / f.name)
    if not args.stores:
        run_config(cfg, stores[0])
    if args.part in ("xmaml-control", "xmaml-ranked"):
        print(f"\ntable it beside the xmaml runs: --stores XMAML_FOLDERS --{args.part[6:]} {stores[0]}")
        return
    import pandas as pd

    runs = pd.concat([xlt.Results.from_dir(d).runs for d in stores], ignore_index=True)
    runs = runs[runs["seed"].isin(args.seeds)]
    runs = runs[runs["strategy"].isin([plain, new])]
    order = (plain, new)
    for name, folders in beside.items():
        if not folders:
            continue
        other = pd.concat([xlt.Results.from_dir(d).runs for d in folders], ignore_index=True)
        other = other[(other["strategy"] == new) & other["seed"].isin(args.seeds)]
        seeds = sorted(other["seed"].unique())
        label = name if seeds == sorted(args.seeds) else f"{name} (seed{'s' * (len(seeds) > 1)} " \
            f"{', '.join(map(str, seeds))})"
        runs = pd.concat([runs, other.assign(strategy=label)], ignore_index=True)
        order = (*order[:-1], label, new)
    absent = {plain, new} - set(runs["strategy"])
    if absent:
        ap.error(f"{', '.join(map(str, stores))} holds no finished {' or '.join(sorted(absent))} runs for seeds "
                 f"{args.seeds}; give the output folders of {args.part} runs")
    langs = sorted(runs["language"].unique())
    runs = runs.assign(n=runs["n"].fillna(0).astype(int))
    metric = "entity F1" if cfg.get("task") == "ner" else "macro-F1"
    print(f"\n## {cfg['name']}: {metric} x 100, mean over seeds {args.seeds}\n")
    print("| strategy | N | " + " | ".join(langs) + " | mean |\n|---|---:|" + "---:|" * (len(langs) + 1))
    table = runs.pivot_table(index=["strategy", "n"], columns="language", values="score", aggfunc="mean") * 100
    shots = sorted(runs["n"].unique())
    for n in shots:
        for strategy in (s for s in order if (s, n) in table.index):
            row = table.loc[(strategy, n), langs]
            print(f"| {strategy} | {n or ''} | " + " | ".join(f"{v:.1f}" for v in row) + f" | {row.mean():.1f} |")
        diff = table.loc[(new, n), langs] - table.loc[(plain, n), langs]
        print(f"| difference | {n or ''} | " + " | ".join(f"{v:+.1f}" for v in diff) + f" | {diff.mean():+.1f} |")
    for n in shots:
        pairs = runs[runs["n"] == n].pivot_table(index=["language", "seed"], columns="strategy", values="score") * 100
        control = [s for s in order[1:-1] if s in pairs]
        compared = [(new, plain)] + [(new, c) for c in control] + [(c, plain) for c in control]
        for a, b in compared:
            both = pairs[[a, b]].dropna()
            t = paired_test(list(both[a]), list(both[b]))
            print(f"\n{a} - {b}{f' at N={n}' if n else ''}: {t['mean_diff']:+.1f} points over {t['n']} language x "
                  f"seed pairs (above on {int((both[a] > both[b]).sum())}), permutation p {t['p_permutation']:.4f}")
        per_seed = pairs.groupby(level="seed").mean()
        for strategy in (s for s in order if s in per_seed):
            print(f"  {strategy}, mean over languages per seed: "
                  + ", ".join(f"{v:.1f}" for v in per_seed[strategy].dropna()))
    records = []  # (seed, strategy, train_info) of every finished run, each store read once
    for store in stores:
        with open_existing(store / "results.sqlite") as con:
            records += [(seed, strategy, json.loads(info)) for seed, strategy, info in con.execute(
                "SELECT seed, strategy, train_info FROM runs WHERE status = 'done' AND strategy IN (?, ?) "
                "ORDER BY language, seed", (plain, new))]
    records = [r for r in records if r[0] in args.seeds]
    if args.part == "xmaml":
        for seed in sorted({r[0] for r in records}):
            trained = [info["meta"]["seconds"] for s, strategy, info in records
                       if s == seed and strategy == new and not info["meta"].get("reused")]
            reused = sum(1 for s, strategy, info in records if s == seed and strategy == new
                         and info["meta"].get("reused"))
            fit = {st: [info["seconds"] for s, x, info in records if s == seed and x == st] for st in (plain, new)}
            print(f"seed {seed}: meta-training {len(trained)} times ({sum(trained):.0f} s in all), its weights "
                  f"reused by {reused} runs; the N shots' stage {sum(fit[plain]) / len(fit[plain]):.0f} s a run "
                  f"after {plain}'s source stage, {sum(fit[new]) / len(fit[new]):.0f} s after meta-training")
    chosen, trained = {}, {}  # target -> the languages the ranker chose (data, not weights: the same every seed)
    for store in args.ranked or []:
        with open_existing(store / "results.sqlite") as con:
            done = con.execute("SELECT language, seed, train_info FROM runs WHERE status = 'done' AND strategy = ?",
                               (new,)).fetchall()
        for lang, seed, info in done:
            meta = json.loads(info)["meta"]
            chosen[lang] = "+".join(meta["languages"])
            if seed in args.seeds and not meta.get("reused"):
                trained.setdefault(seed, []).append(meta["seconds"])
    if chosen:
        print("auxiliary languages chosen by the source ranker: "
              + ", ".join(f"{t} {chosen[t]}" for t in sorted(chosen)))
    for seed, seconds in sorted(trained.items()):
        print(f"ranked top 3, seed {seed}: meta-training {len(seconds)} times ({sum(seconds):.0f} s in all)")
    if args.part.startswith("lapt"):
        seen = set()  # an adaptation pooled over the targets is printed once
        for seed, _, info in (r for r in records if r[1] == new):
            lapt = info["lapt"]
            if (seed, lapt["language"]) in seen:
                continue
            seen.add((seed, lapt["language"]))
            per = f", {lapt['minutes_per_language']:.1f} min per language" if "minutes_per_language" in lapt else ""
            if lapt.get("mlm_head_minutes") is not None:
                per += f"; its masked-LM head {lapt['mlm_head_minutes']:.1f} min"
            print(f"LAPT {lapt['language']} seed {seed}: {lapt['minutes']:.1f} min{per}, masked-LM loss "
                  f"{lapt['mlm_loss_first']:.2f} -> {lapt['mlm_loss_last']:.2f} ({lapt['steps']} steps, "
                  f"{lapt['texts']} texts)")
        took: dict = {}  # (seed, strategy) -> its runs' source-stage seconds (one stage, or one per language)
        for seed, strategy, info in records:
            if info.get("seconds") is not None:
                took.setdefault((seed, strategy), []).append(info["seconds"])
        for seed in sorted({seed for seed, _ in took}):
            print(f"source stage seed {seed}: " + ", ".join(
                f"{s} {min(v):.0f}" + (f" to {max(v):.0f}" if max(v) > min(v) else "") + " s"
                for s in (plain, new) if (v := took.get((seed, s)))))

if __name__ == "__main__":
    main()
