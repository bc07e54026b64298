"""Multi-source transfer on NusaX-senti in one process (the frozen encoder's features are computed once and
shared by every config): the 12 x 11 single-source matrix, leave-one-out multi-source zero-shot on the ten
local languages against English alone, the same sources merged (linear, TIES) instead of trained jointly, and
both source rankers evaluated leave-one-target-out.

With `--lora`, the same with xlt's default method (LoRA r 8 on query and value): the 12 x 11 matrix, whose
source stages are then merged for each local language (linear, TIES, DARE-TIES, and linear weighted by the
zero-data ranker) with no further training, against joint training on the same eleven sources.
The matrix is two configs so that two processes can train it on two cores; `--lora` runs whatever of it is
not finished, shares its stages with the merge configs (hard links: a stage is named by the hash of what it
depends on, the same in both), runs those and the joint leave-one-out config.

    python bench/multi_source.py                 # runs what is not finished, then prints the tables
    python bench/multi_source.py --table-only    # prints the tables from the stores
    taskset -c 0 xlt run bench/multi_source/nusax-lora-matrix-1.yaml &   # optional: both halves at once
    taskset -c 1 xlt run bench/multi_source/nusax-lora-matrix-2.yaml
    python bench/multi_source.py --lora          # the rest, then the tables (about two hours on one core)

Over seeds, each seed's configs run into their own folders (`-seedS`); `--stages-from` hard-links the stages of
runs already made on that seed (the leave-one-out and English-alone runs of `--stores` below), so the joint
model and English's matrix row are not trained again. One process per seed, then the tables and their means:

    taskset -c 0 xlt run bench/multi_source/nusax-lora-matrix-1.yaml --set 'protocol.seeds=[1]' \
        --output bench/out/multi_source/nusax-lora-matrix-1-seed1 &     # and -2, and the other seeds
    python bench/multi_source.py --lora --seeds 1 --stages-from \
        bench/out/multi_source/nusax-lora-{leave-one-out-seed1-a,leave-one-out-seed1-b,english-seed1}
    python bench/multi_source.py --lora --table-only --seeds 0 1 2

With `--ner`, leave-one-out on MasakhaNER 2.0 (full fine-tuning, each of the twenty languages from the other
nineteen, 200 training sentences each) against English alone (CoNLL-2003) on the same seed, per language. The
leave-one-out study is two configs of ten targets, one per core:

    taskset -c 0 xlt run bench/multi_source/masakhaner2-leave-one-out-1.yaml &
    taskset -c 1 xlt run bench/multi_source/masakhaner2-leave-one-out-2.yaml
    python bench/multi_source.py --ner           # whatever is not finished (English too), then the table

With `--ner-matrix`, the MasakhaNER 2.0 single-source matrix: eight candidate sources (English and seven
MasakhaNER languages, 3,500 training sentences each) to all twenty languages; the seven MasakhaNER sources'
stages merged (linear) for the other thirteen languages, against training on the seven jointly; both source
rankers evaluated on the matrix leave-one-target-out. The matrix is two configs of four sources, one per core:

    taskset -c 0 xlt run bench/multi_source/masakhaner2-matrix-1.yaml &
    taskset -c 1 xlt run bench/multi_source/masakhaner2-matrix-2.yaml
    python bench/multi_source.py --ner-matrix    # the rest (merge, joint), then the tables
    python bench/multi_source.py --ner-matrix --matrix-from bench/multi_source/masakhaner2-matrix-seed0.csv
                                                 # the rankers on the matrix as measured, without its stores

For another seed, each half with `--set 'protocol.seeds=[S]' --output bench/out/multi_source/masakhaner2-matrix-
1-seedS` (and `-2`), then `--ner-matrix --matrix-from` those two folders, with the seed-0 CSV beside them for
the mean over seeds. The merge and the joint model on seed S: hard-link the files of those two folders' `stages/`
into `bench/out/multi_source/masakhaner2-merge-linear-seedS/stages`, run `masakhaner2-merge-linear.yaml` and
`masakhaner2-joint.yaml` with the same `--set` into `-seedS` folders, then

    python bench/multi_source.py --ner-merges 0 1 2   # joint against merged per target and seed (runs nothing)

The rankers' tables have a third row, `learned_record`: the learned ranker also reading each source's record
(its mean standardised transfer to the other measured targets, never the one being ranked). The rule, written
before any ranking with it was run: the record joins the learned ranker's features only if, leave-one-target-
out, it raises the learned ranker's NDCG@3 and does not lower its share of top-1 picks within 2 points, on both
NusaX matrices (the frozen head's, `python bench/multi_source.py`, and LoRA's mean over seeds 0-2, `--lora
--table-only --seeds 0 1 2`); otherwise it stays an option (`xlt rank-sources --record`). It stayed an
option: BENCHMARKS.md, "Several sources", has the figures.

A fourth row, `learned_langrank`, reads the rest of LANGRANK's features (Lin et al., 2019) besides the pair
features: word overlap, the type-token ratios of source and target and their distance, the target's size and the
source-to-target size ratio, and URIEL's featural distance. The rule, written before any ranking with them was
run: they join the learned ranker's default only if, leave-one-target-out, they raise its NDCG@3 in the mean
over the three matrices (the frozen head's NusaX matrix; LoRA's NusaX matrix, mean over seeds 0-2; MasakhaNER
2.0's, mean over seeds 0-2) and lower its share of top-1 picks within 2 points on none of the three. They
did not (lower on all three): an option, `xlt rank-sources --langrank`; BENCHMARKS.md has the figures.

With `--stores DIR ...`, leave-one-out against English alone per target and seed, from any stores that hold
them (runs nothing): for another seed or a subset of targets run a config above with `xlt run CONFIG --set
'protocol.seeds=[1]' --set 'targets.languages=[...]' --output DIR`, and English alone from the matrix config
with `--set 'sources.languages=[eng]'`. `--against CSV` tables earlier seed-0 figures kept without their
stores beside them, and tests the leave-one-out runs against each of their columns; on MasakhaNER 2.0, the
same training budget spread over three times as many distinct sentences (600 a language, one epoch, against
200 a language, three epochs):

    taskset -c 0 xlt run bench/multi_source/masakhaner2-leave-one-out-1.yaml --set sources.train_limit=600 \
        --set training.epochs=1 --output bench/out/multi_source/masakhaner2-loo-600-1 &     # and -2 on core 1
    python bench/multi_source.py --stores bench/out/multi_source/masakhaner2-loo-600-{1,2} \
        --against bench/multi_source/masakhaner2-leave-one-out-seed0.csv
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

HERE = Path(__file__).parent / "multi_source"
LORA_MATRIX = ("nusax-lora-matrix-1", "nusax-lora-matrix-2")
NER_LOO = ("masakhaner2-leave-one-out-1", "masakhaner2-leave-one-out-2")
NER_MATRIX = ("masakhaner2-matrix-1", "masakhaner2-matrix-2")
LORA_MERGES = {"linear": "merged, linear", "ties": "merged, ties", "dare_ties": "merged, dare-ties",
               "linear-ranked": "merged, linear, ranker weights"}  # config suffix -> table column


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--table-only", action="store_true")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--lora", action="store_true", help="the LoRA matrix and its merges instead")
    ap.add_argument("--ner", action="store_true", help="MasakhaNER 2.0 leave-one-out against English instead")
    ap.add_argument("--ner-matrix", action="store_true", help="the MasakhaNER 2.0 matrix and rankers instead")
    ap.add_argument("--matrix-from", nargs="+", type=Path, help="--ner-matrix: the matrix from these CSVs of "
                    "measured transfer (source,target,score) or run folders, each pair's mean over them, instead of "
                    "the configs' stores; prints the matrix and the rankers")
    ap.add_argument("--ner-merges", nargs="+", type=int, metavar="SEED", help="joint training against the linear "
                    "merge on MasakhaNER 2.0 over these seeds (seed 0 from its CSVs, others from their -seedS "
                    "folders; runs nothing)")
    ap.add_argument("--stores", nargs="+", type=Path, help="table leave-one-out against English alone per seed "
                    "from these run folders (runs nothing)")
    ap.add_argument("--against", type=Path, help="--stores: a CSV of earlier figures kept without their stores "
                    "(target, then one column per kind, F1 x 100; e.g. bench/multi_source/masakhaner2-leave-one-"
                    "out-seed0.csv), compared as seed 0: its English column stands in for English alone")
    ap.add_argument("--strategy", default="zero_shot", help="--stores: the strategy whose runs are compared "
                    "(zero_shot, or self_training where the stores hold it)")
    ap.add_argument("--seeds", nargs="+", type=int, help="--lora: run and table these seeds, each in its own "
                    "folders (name-seedS), then their means")
    ap.add_argument("--stages-from", nargs="+", type=Path, help="--lora --seeds: run folders whose saved stages "
                    "to reuse where a config would train the same stage (e.g. the --stores runs)")
    args = ap.parse_args()
    if (args.seeds or args.stages_from) and not args.lora:
        ap.error("--seeds and --stages-from go with --lora")
    if args.stages_from and not args.seeds:
        ap.error("--stages-from needs --seeds: the configs' own folders keep their own stages")
    if args.against and not args.stores:
        ap.error("--against goes with --stores")
    if args.stores:
        return seeds_table(args.stores, ap, args.strategy, args.against)
    if args.ner_merges:
        return ner_merges_table(args.ner_merges)
    if args.ner_matrix:
        return ner_matrix_tables(args)
    if args.lora:
        return lora_tables(args)
    if args.ner:
        return ner_table(args, ap)
    outs = {name: _run(_config(name), args)
            for name in ("nusax-matrix", "nusax-leave-one-out", "nusax-merge-linear", "nusax-merge-ties")}
    matrix = outs["nusax-matrix"].runs
    zero = matrix[matrix["strategy"] == "zero_shot"]
    english = {r["language"]: r["score"] for _, r in zero[zero["sources"] == "eng"].iterrows()}
    best = zero.loc[zero.groupby("language")["score"].idxmax()].set_index("language")
    loo = zero_shot_scores(outs["nusax-leave-one-out"].runs)
    print("\n| target | English alone | best single source | leave-one-out (11 sources) | gain over English |")
    print("|---|---|---|---|---|")
    for lang, score in loo.items():
        print(f"| {lang} | {100 * english[lang]:.1f} | {100 * best.loc[lang, 'score']:.1f} "
              f"({best.loc[lang, 'sources']}) | {100 * score:.1f} | {100 * (score - english[lang]):+.1f} |")
    print(f"| mean | {100 * sum(english[x] for x in loo.index) / len(loo):.1f} | "
          f"{100 * best.loc[loo.index, 'score'].mean():.1f} | **{100 * loo.mean():.1f}** | "
          f"{100 * (loo.mean() - sum(english[x] for x in loo.index) / len(loo)):+.1f} |")

    print("\n| target | best single source | joint (11 sources) | merged, linear | merged, ties |")
    print("|---|---|---|---|---|")
    merged = {}
    for kind in ("linear", "ties"):
        merged[kind] = zero_shot_scores(outs[f"nusax-merge-{kind}"].runs)
    for lang, score in loo.items():
        print(f"| {lang} | {100 * best.loc[lang, 'score']:.1f} | {100 * score:.1f} | "
              f"{100 * merged['linear'][lang]:.1f} | {100 * merged['ties'][lang]:.1f} |")
    print(f"| mean | {100 * best.loc[loo.index, 'score'].mean():.1f} | {100 * loo.mean():.1f} | "
          f"{100 * merged['linear'].mean():.1f} | {100 * merged['ties'].mean():.1f} |")

    from xlt.ranking.results import measured_transfer

    transfer = measured_transfer([outs["nusax-matrix"].output_dir])
    print_matrix(transfer, "The frozen head's matrix")
    print_picks(print_ranking(transfer, args, "source ranking"))


def _config(name: str, seed: int | None = None, args=None):
    """A bench config; with a seed, run on that seed alone into its own folder (`-seedS`), after hard-linking
    into its stage folder the stages of --stages-from (a stage is named by the hash of what it depends on, so
    only the ones this config would train are loaded)."""
    from xlt.config import load_config

    exp = load_config(HERE / f"{name}.yaml")
    if seed is None:
        return exp
    exp = load_config(HERE / f"{name}.yaml", [f"protocol.seeds=[{seed}]", f"output.dir={exp.output.dir}-seed{seed}"])
    if args is not None and args.stages_from and not args.table_only:
        share_stages([d / "stages" for d in args.stages_from], Path(exp.output.dir) / "stages")
    return exp


def zero_shot_scores(runs):
    """Each target language's zero-shot score (mean over seeds) from a Results.runs table."""
    return runs[runs["strategy"] == "zero_shot"].groupby("language")["score"].mean()


def _run(exp, args):
    """The config's results, run (resuming) unless --table-only."""
    import xlt

    t0 = time.perf_counter()
    res = xlt.Results.from_dir(exp.output.dir) if args.table_only else \
        xlt.run(exp, data_dir=args.data_dir, progress=False)
    print(f"{exp.name}: {len(res.runs)} runs{'' if args.table_only else f' in {time.perf_counter() - t0:.0f} s'}")
    return res


def print_ranking(transfer: dict, args, title: str, settings: dict | None = None) -> dict:
    """Both source rankers evaluated leave-one-target-out on measured transfer scores, as a table; `settings`:
    the sources' data settings where they are not the defaults (see FeatureTable)."""
    from xlt.ranking.results import FeatureTable, evaluate

    res = evaluate(transfer, FeatureTable("embedded:multilingual-e5-small", args.data_dir, settings=settings))
    print(f"\n{title}, leave-one-target-out over {len(res['targets'])} targets")
    print("| ranker | NDCG@3 | regret (points) | top-1 within 2 points of the best |")
    print("|---|---|---|---|")
    for name, v in res["summary"].items():
        print(f"| {name} | {v['ndcg3']:.3f} | {100 * v['regret']:.2f} | {100 * v['within_2_points']:.0f}% |")
    return res


def print_picks(res: dict) -> None:
    """Each target's best source in hindsight and both rankers' top-1 with its regret, as a table."""
    names = ("heuristic", "learned", "learned_record", "learned_langrank")
    print("\n| target | best source | " + " | ".join(f"{n} top-1" for n in names) + " |")
    print("|---" * (2 + len(names)) + "|")
    for row in res["targets"]:
        print(f"| {row['target']} | {row['best']} ({100 * row['best_score']:.1f}) | "
              + " | ".join(f"{row[n]['top1']} (-{100 * row[n]['regret']:.1f})" for n in names) + " |")


def print_matrix(transfer: dict, title: str) -> dict[str, dict[str, float]]:
    """The measured matrix as a table, rows sources and columns targets; returns it keyed by language code."""
    matrix = {t.split("/")[1]: {s.split("/")[1]: v for s, v in row.items()} for t, row in transfer.items()}
    targets = sorted(matrix)
    sources = sorted({s for row in matrix.values() for s in row})
    print(f"\n{title} (rows: sources, columns: targets)")
    print("| source | " + " | ".join(targets) + " |")
    print("|---" * (len(targets) + 1) + "|")
    for s in sources:
        print(f"| {s} |" + "".join(f" {100 * matrix[t][s]:.1f} |" if s in matrix[t] else " |" for t in targets))
    return matrix


def share_stages(sources: list[Path], folder: Path) -> None:
    """Hard-link the matrix's saved source stages into a merge config's stage folder: a stage is named by
    the hash of what it depends on, the same in both configs, so the merge loads them instead of training."""
    folder.mkdir(parents=True, exist_ok=True)
    for src in sources:
        for f in src.glob("*"):
            if not (folder / f.name).exists():
                (folder / f.name).hardlink_to(f)


def lora_tables(args) -> None:
    """The LoRA matrix, leave-one-out merges of its stages against joint training, and the rankers on it; with
    --seeds, each seed in its own folders (`-seedS`) and then the means over the seeds."""
    import pandas as pd

    from xlt.ranking.results import measured_transfer

    seeds = args.seeds or [None]
    all_dirs, joints, merges = [], [], []
    for seed in seeds:
        dirs = [_run(_config(name, seed, args), args).output_dir for name in LORA_MATRIX]
        merged = {}
        for kind in LORA_MERGES:
            exp = _config(f"nusax-lora-merge-{kind}", seed, args)
            if not args.table_only:
                share_stages([d / "stages" for d in dirs], Path(exp.output.dir) / "stages")
            merged[kind] = zero_shot_scores(_run(exp, args).runs)
        joint = zero_shot_scores(_run(_config("nusax-lora-leave-one-out", seed, args), args).runs)
        label = "" if seed is None else f", seed {seed}"
        print_merge_table(print_matrix(measured_transfer(dirs), f"The LoRA matrix{label}"), joint, merged, label)
        all_dirs += dirs
        joints.append(joint)
        merges.append(pd.DataFrame(merged))
    transfer = measured_transfer(all_dirs)  # each pair's mean over the seeds
    if len(seeds) > 1:
        label = f", mean over seeds {', '.join(map(str, seeds))}"
        joint, merged = pd.concat(joints, axis=1), pd.concat(merges, keys=seeds)
        print_merge_table(print_matrix(transfer, f"The LoRA matrix{label}"), joint.mean(axis=1),
                          {k: merged[k].groupby(level=1).mean() for k in LORA_MERGES}, label)
        over_seeds = pd.concat(joints, keys=seeds)
        print_joint_against_merges(over_seeds, merged, list(over_seeds.index), "over target x seed pairs, ", 4)
    print_ranking(transfer, args, f"source ranking on the LoRA matrix{label}")


def print_merge_table(matrix: dict, joint, merged: dict, label: str) -> None:
    """English alone, the best single source in hindsight, joint training and each merge, per target."""
    heads = " | ".join(LORA_MERGES.values())
    print(f"\nMerging against joint training{label}")
    print(f"| target | English alone | best single source | joint (11 sources, one epoch) | {heads} |")
    print("|---|---|---|---|" + "---|" * len(LORA_MERGES))
    targets = list(next(iter(merged.values())).index)
    for t in targets:
        best = max(matrix[t], key=matrix[t].get)
        print(f"| {t} | {100 * matrix[t]['eng']:.1f} | {100 * matrix[t][best]:.1f} ({best}) | "
              f"{100 * joint[t]:.1f} | " + " | ".join(f"{100 * merged[k][t]:.1f}" for k in LORA_MERGES) + " |")
    english = 100 * sum(matrix[t]["eng"] for t in targets) / len(targets)
    best_single = 100 * sum(max(matrix[t].values()) for t in targets) / len(targets)
    print(f"| mean | {english:.1f} | {best_single:.1f} | {100 * joint[targets].mean():.1f} | "
          + " | ".join(f"{100 * merged[k].mean():.1f}" for k in LORA_MERGES) + " |")
    print_joint_against_merges(joint, merged, targets)


def print_joint_against_merges(joint, merged: dict, pairs: list, prefix: str = "", p_digits: int = 3) -> None:
    """Joint training against each merge, paired over `pairs`: targets, or (seed, target) over seeds."""
    from xlt.evaluate.compare import paired_test

    for k in LORA_MERGES:
        t = paired_test(list(joint[pairs]), list(merged[k][pairs]))
        wins = int((joint[pairs] > merged[k][pairs]).sum())
        print(f"{prefix}joint - merged {k}: {100 * t['mean_diff']:+.1f} points, joint ahead on {wins} of "
              f"{len(pairs)}, permutation p {t['p_permutation']:.{p_digits}f}")


def ner_merges_table(seeds: list[int]) -> None:
    """Joint training on the matrix's seven MasakhaNER sources against the linear merge of their stages, per
    target and seed, with English and the best single source of that seed's matrix: seed 0 from its CSVs (its
    stores were not kept), any other seed S from the `-seedS` folders of the matrix, joint and merge configs."""
    import csv

    import pandas as pd

    from xlt.evaluate.compare import paired_test
    from xlt.ranking.results import measured_transfer

    out = Path("bench/out/multi_source")
    rows = []
    for seed in seeds:
        if seed == 0:
            matrix = measured_transfer([HERE / "masakhaner2-matrix-seed0.csv"])
            with open(HERE / "masakhaner2-merge-joint-seed0.csv", encoding="utf-8") as f:
                kept = {r["target"]: r for r in csv.DictReader(line for line in f if not line.startswith("#"))}
            joint = {t: float(r["joint"]) for t, r in kept.items()}
            merged = {t: float(r["merged_linear"]) for t, r in kept.items()}
        else:
            matrix = measured_transfer([out / f"{name}-seed{seed}" for name in NER_MATRIX])
            joint = zero_shot_scores(xlt_results(out / f"masakhaner2-joint-seed{seed}")).to_dict()
            merged = zero_shot_scores(xlt_results(out / f"masakhaner2-merge-linear-seed{seed}")).to_dict()
        for t in sorted(joint):
            cells = {s.split("/")[1]: v for s, v in matrix[f"masakhaner2/{t}"].items()}
            rows.append({"seed": seed, "target": t, "english": cells["eng"], "best": max(cells.values()),
                         "joint": joint[t], "merged": merged[t]})
    df = pd.DataFrame(rows)
    means = df.groupby("target")[["english", "best", "joint", "merged"]].mean()
    by_seed = df.pivot(index="target", columns="seed")
    print(f"\nMasakhaNER 2.0, joint training (7 sources) against the linear merge, seeds {seeds}")
    print("| target | English | best single source | " + " | ".join(f"joint, seed {s}" for s in seeds) + " | "
          + " | ".join(f"merged, seed {s}" for s in seeds) + " | joint, mean | merged, mean |")
    print("|---" * (5 + 2 * len(seeds)) + "|")
    for t, m in means.iterrows():
        print(f"| {t} | {100 * m['english']:.1f} | {100 * m['best']:.1f} | "
              + " | ".join(f"{100 * by_seed.loc[t, ('joint', s)]:.1f}" for s in seeds) + " | "
              + " | ".join(f"{100 * by_seed.loc[t, ('merged', s)]:.1f}" for s in seeds)
              + f" | {100 * m['joint']:.1f} | {100 * m['merged']:.1f} |")
    print(f"| mean ({len(means)}) | " + " | ".join(f"{100 * v:.1f}" for v in (means["english"].mean(),
                                                                           means["best"].mean()))
          + " | " + " | ".join(f"{100 * df[df.seed == s][k].mean():.1f}"
                               for k in ("joint", "merged") for s in seeds)
          + f" | **{100 * means['joint'].mean():.1f}** | {100 * means['merged'].mean():.1f} |")
    for a, b in (("joint", "merged"), ("joint", "english"), ("joint", "best"), ("merged", "english")):
        t = paired_test(list(df[a]), list(df[b]))
        print(f"over the {len(df)} target x seed pairs: {a} - {b} {100 * t['mean_diff']:+.1f} points, {a} ahead "
              f"on {int((df[a] > df[b]).sum())}, permutation p {t['p_permutation']:.4f}")


def xlt_results(folder: Path):
    import xlt

    if not folder.exists():
        raise SystemExit(f"{folder} does not exist: run its config with --set 'protocol.seeds=[S]' --output "
                         f"{folder}")
    return xlt.Results.from_dir(folder).runs


def ner_table(args, ap) -> None:
    """Leave-one-out multi-source zero-shot on MasakhaNER 2.0 against English alone, per language: the
    configs run (resuming) unless --table-only, then the --stores table of their folders."""
    folders = [_run(_config(name), args).output_dir for name in (*NER_LOO, "masakhaner2-english")]
    seeds_table(folders, ap)


def kept_figures(csv_path: Path, ap) -> "pd.DataFrame":
    """Seed-0 figures kept as a CSV (target, then one column per kind, F1 x 100) as rows of `seeds_table`."""
    import pandas as pd

    if not csv_path.is_file():
        ap.error(f"--against {csv_path}: no such file")
    try:
        wide = pd.read_csv(csv_path, comment="#", encoding="utf-8")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        ap.error(f"{csv_path} is not a UTF-8 CSV with a header 'target,KIND,...': {e}")
    if "target" not in wide or len(wide.columns) < 2:
        ap.error(f"{csv_path}: expected a header 'target,KIND,...' and one row per target")
    rows = wide.melt(id_vars="target", var_name="kind", value_name="score").dropna(subset=["score"])
    try:
        scores = pd.to_numeric(rows["score"])
    except ValueError as e:
        ap.error(f"{csv_path}: every figure must be a number (F1 x 100): {e}")
    return rows.rename(columns={"target": "language"}).assign(seed=0, score=scores / 100)


def seeds_table(stores: list[Path], ap, strategy: str = "zero_shot", against: Path | None = None) -> None:
    """Zero-shot (or another strategy's runs) from the target's leave-one-out source set against English alone,
    per target and seed, with the paired test over target x seed pairs; targets without a leave-one-out run are
    left out. `against`: earlier seed-0 figures kept as a CSV, tabled beside the runs and tested against them."""
    import pandas as pd
    import yaml

    import xlt
    from xlt.errors import XltError
    from xlt.evaluate.compare import paired_test

    tables = []
    for d in stores:
        try:
            runs = xlt.Results.from_dir(d).runs
        except XltError as e:
            ap.error(str(e))
        if "sources" not in runs:  # one source: its language, from the config the run resolved
            source = yaml.safe_load((d / "config.resolved.yaml").read_text())["source"]
            runs = runs.assign(sources=source.get("language"))
        tables.append(runs)
    runs = pd.concat(tables, ignore_index=True)
    zero = runs[runs["strategy"] == strategy].copy()
    zero["kind"] = zero["sources"].map(lambda s: "English" if s == "eng" else
                                       "leave-one-out" if str(s).startswith("all-but-") else None)
    zero = zero.dropna(subset=["kind"])[["language", "kind", "seed", "score"]]
    if against is not None:
        kept = kept_figures(against, ap)
        twice = kept.merge(zero, on=["language", "kind", "seed"])
        if len(twice):
            ap.error(f"{against} and the stores both hold {twice['kind'].iloc[0]} on seed 0 for "
                     f"{twice['language'].iloc[0]}: leave one of them out")
        zero = pd.concat([zero, kept], ignore_index=True)
    table = zero.pivot_table(index="language", columns=["kind", "seed"], values="score") * 100
    if "English" not in table or "leave-one-out" not in table:
        ap.error(f"the stores need {strategy} runs from English alone and from leave-one-out source sets")
    table = table.dropna(subset=[c for c in table.columns if c[0] == "leave-one-out"], how="all")
    cols = list(table.columns)
    print("\n| target | " + " | ".join(f"{k}, seed {s}" for k, s in cols) + " | gain, mean over seeds |")
    print("|---|" + "---:|" * (len(cols) + 1))
    gain = table["leave-one-out"].mean(axis=1) - table["English"].mean(axis=1)
    for lang, row in table.iterrows():
        print(f"| {lang} | " + " | ".join(f"{v:.1f}" for v in row) + f" | {gain[lang]:+.1f} |")
    print(f"| mean ({len(table)}) | " + " | ".join(f"{v:.1f}" for v in table.mean()) + f" | {gain.mean():+.1f} |")
    pairs = table.stack("seed", future_stack=True).dropna()
    for other in [k for k in table.columns.get_level_values("kind").unique() if k != "leave-one-out"]:
        both = pairs[["leave-one-out", other]].dropna()
        if both.empty:
            continue
        t = paired_test(list(both["leave-one-out"]), list(both[other]))
        print(f"leave-one-out - {other}: {t['mean_diff']:+.1f} points over {t['n']} target x seed pairs (above on "
              f"{int((both['leave-one-out'] > both[other]).sum())}), permutation p {t['p_permutation']:.4f}")
    loo = runs[runs["sources"].astype(str).str.startswith("all-but-")]
    stages, transfers = loo[loo["strategy"] == "source"], loo[loo["strategy"] == strategy]
    if len(stages) and len(transfers):
        print(f"leave-one-out stages: {stages['train_seconds'].min() / 60:.1f} to "
              f"{stages['train_seconds'].max() / 60:.1f} min of training each; {strategy} transfers "
              f"{transfers['eval_seconds'].min():.0f} to {transfers['eval_seconds'].max():.0f} s each")


def print_matrix_summary(matrix: dict[str, dict[str, float]]) -> set[str]:
    """English's and the best source's means over the targets, how often each source is the best, each
    source's mean and English's mean rank; returns the sources."""
    n = len(matrix)
    best_mean = sum(max(row.values()) for row in matrix.values()) / n
    english = sum(row["eng"] for row in matrix.values()) / n
    sources = {s for row in matrix.values() for s in row}
    wins = {s: sum(max(row, key=row.get) == s for row in matrix.values()) for s in sorted(sources)}
    ranked = sorted(wins.items(), key=lambda x: -x[1])
    print(f"mean over {n}: English {100 * english:.1f}, best source in hindsight {100 * best_mean:.1f}; "
          "best source per target: " + ", ".join(f"{s} {k}" for s, k in ranked))
    rows = {s: [row[s] for row in matrix.values() if s in row] for s in sorted(sources)}
    rank = [sorted(row.values(), reverse=True).index(row["eng"]) + 1 for row in matrix.values()]
    every = sum(sum(row.values()) / len(row) for row in matrix.values()) / n
    print("each source's mean over its targets: " + ", ".join(f"{s} {100 * sum(v) / len(v):.1f}"
                                                             for s, v in rows.items())
          + f"; mean of all {len(sources)} {100 * every:.1f}; English's mean rank {sum(rank) / n:.2f} of "
          f"{len(sources)}")
    return sources


def ner_matrix_tables(args) -> None:
    """The MasakhaNER 2.0 matrix; each target's best source against English, leave-one-out, and the seven
    MasakhaNER sources trained jointly or merged; the rankers."""
    import pandas as pd

    import xlt
    from xlt.evaluate.compare import paired_test
    from xlt.ranking.results import measured_transfer

    if args.matrix_from:  # the sources' features describe the data the matrix configs trained them on
        from xlt.ranking.results import config_languages

        transfer = measured_transfer(args.matrix_from)
        print_matrix_summary(print_matrix(transfer, "The MasakhaNER 2.0 matrix, from "
                                          + ", ".join(map(str, args.matrix_from))))
        settings = config_languages([_config(name) for name in NER_MATRIX])[0]
        print_picks(print_ranking(transfer, args, "source ranking on the MasakhaNER 2.0 matrix", settings))
        return
    dirs = [_run(_config(name), args).output_dir for name in NER_MATRIX]
    transfer = measured_transfer(dirs)
    matrix = print_matrix(transfer, "The MasakhaNER 2.0 matrix, 3,500 sentences per source")
    merge = _config("masakhaner2-merge-linear")
    if not args.table_only:
        share_stages([d / "stages" for d in dirs], Path(merge.output.dir) / "stages")
    merged = zero_shot_scores(_run(merge, args).runs)
    joint = zero_shot_scores(_run(_config("masakhaner2-joint"), args).runs)
    loo_dirs = [Path(_config(name).output.dir) for name in NER_LOO]
    loo = [zero_shot_scores(xlt.Results.from_dir(d).runs) for d in loo_dirs if d.exists()]
    loo = pd.concat(loo) if loo else None  # the leave-one-out study (--ner), where it has been run

    def cell(series, t):
        return f"{100 * series[t]:.1f}" if t in series.index else "-"

    print("\n| target | English | best of the eight | mean of the eight | joint (7) | merged, linear (7) |"
          + (" leave-one-out (19) |" if loo is not None else ""))
    print("|---" * (6 + (loo is not None)) + "|")
    for t in sorted(matrix):
        best = max(matrix[t], key=matrix[t].get)
        mean = sum(matrix[t].values()) / len(matrix[t])
        print(f"| {t} | {100 * matrix[t]['eng']:.1f} | {100 * matrix[t][best]:.1f} ({best}) | "
              f"{100 * mean:.1f} | {cell(joint, t)} | {cell(merged, t)} |"
              + (f" {cell(loo, t)} |" if loo is not None else ""))
    sources = print_matrix_summary(matrix)
    for name, model in (("merged", merged), ("joint", joint)):
        if len(model):  # against the single sources on its own targets
            own = list(model.index)
            eng = [matrix[x]["eng"] for x in own]
            best_scores = [max(matrix[x].values()) for x in own]
            fixed = max(sorted(sources), key=lambda s: sum(matrix[x].get(s, 0) for x in own))  # one for all
            vs = paired_test(list(model[own]), eng)
            print(f"{name} (7 sources) over its {len(own)} targets: {100 * model.mean():.1f}, English "
                  f"{100 * sum(eng) / len(eng):.1f}, best single source {100 * sum(best_scores) / len(own):.1f} "
                  f"(above it on {sum(m > b for m, b in zip(model[own], best_scores))}), {fixed} alone "
                  f"{100 * sum(matrix[x][fixed] for x in own) / len(own):.1f}; above English on "
                  f"{sum(m > e for m, e in zip(model[own], eng))}, permutation p {vs['p_permutation']:.3f}")
    both = sorted(set(joint.index) & set(merged.index))
    if both:
        t = paired_test(list(joint[both]), list(merged[both]))
        print(f"over the {len(both)} targets of both: joint - merged {100 * t['mean_diff']:+.1f}, "
              f"joint ahead on {int((joint[both] > merged[both]).sum())}, permutation p {t['p_permutation']:.3f}")
    from xlt.ranking.results import config_languages, run_configs

    # the sources' features from the data they were trained on (3,500 sentences, CoNLL without MISC)
    res = print_ranking(transfer, args, "source ranking on the MasakhaNER 2.0 matrix",
                        config_languages(run_configs(dirs))[0])
    print_picks(res)


if __name__ == "__main__":
    from xlt.errors import XltError

    try:
        main()
    except XltError as exc:  # a store not there yet (--table-only before a run), a config xlt refuses
        import sys

        print(f"multi_source.py: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None  # as argparse exits on bad arguments
