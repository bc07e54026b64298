"""Compare training recipes on real transfer data, through xlt's own `run_experiment` (issue 7).

Each recipe is a small override of a base experiment; each runs into its own directory under
bench/out/recipes/, so an interrupted sweep resumes (xlt's results store) and a finished recipe
costs nothing to print again. The table: source-language score, zero-shot score per target language,
the mean, and collapsed runs, mean ± SD over the seeds run.

    python bench/recipes.py ner                       # every NER recipe, seed 0, eight languages
    python bench/recipes.py ner --recipes 4k-3ep-lr2e-4 --seeds 0 1 2 --langs all
    python bench/recipes.py nusax --seeds 0 1 2        # NusaX-senti, all ten local languages
"""
from __future__ import annotations

import argparse
import copy
from pathlib import Path

import numpy as np

from xlt.config import parse_config
from xlt.errors import XltError
from xlt.protocol import run_experiment
from xlt.store import Store

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
OUT = Path(__file__).parent / "out" / "recipes"

NER_LANGS = ["hau", "swa", "yor", "zul", "xho", "lug", "ewe", "tsn"]
NER_ALL = ["bam", "bbj", "ewe", "fon", "hau", "ibo", "kin", "lug", "luo", "mos", "nya", "pcm", "sna", "swa", "tsn",
           "twi", "wol", "xho", "yor", "zul"]
NUSAX_ALL = ["ace", "ban", "bbc", "bjn", "bug", "jav", "mad", "min", "nij", "sun"]

# Per task: the base experiment (targets filled in from the language list), the default and full
# language lists, and the settings the targets name.
BASES = {
    "ner": {"config": {"task": "ner", "source": {"dataset": "conll2003", "language": "eng", "label_map": {"MISC": None}},
                       "method": {"name": "full"},
                       "training": {"epochs": 2, "min_steps": 50, "batch_size": 16, "max_length": 128, "patience": 0},
                       "protocol": {"strategies": ["zero_shot"]}},
            "dataset": "masakhaner2", "langs": NER_LANGS, "all_langs": NER_ALL},
    "nusax": {"config": {"task": "classification", "source": {"dataset": "nusax-senti", "language": "eng"},
                         "baselines": [], "protocol": {"strategies": ["zero_shot", "few_shot"], "shots": [100]}},
              "dataset": "nusax-senti", "langs": NUSAX_ALL, "all_langs": NUSAX_ALL},
}

# name -> overrides deep-merged into the base config: what each recipe changes
RECIPES = {
    "ner": {
        "base-3k-2ep-lr5e-5": {"source": {"train_limit": 3000}},  # the issue-4 run's recipe
        # the chosen recipe, also few-shot (adding a strategy reruns only the new runs on the saved source stage)
        "4k-3ep-lr5e-5": {"source": {"train_limit": 4000}, "training": {"epochs": 3},
                          "protocol": {"strategies": ["zero_shot", "few_shot"], "shots": [100]}},
        "4k-3ep-lr1e-4": {"source": {"train_limit": 4000}, "training": {"epochs": 3, "lr": 1e-4}},
        "4k-3ep-lr2e-4": {"source": {"train_limit": 4000}, "training": {"epochs": 3, "lr": 2e-4}},
        "4k-3ep-lr4e-4": {"source": {"train_limit": 4000}, "training": {"epochs": 3, "lr": 4e-4}},
    },
    "nusax": {
        "simple-baselines": {"method": {"name": "frozen"}, "baselines": ["tfidf-lr", "embedding-lr"]},
        "xlt-default-lora": {},  # whatever xlt does with no training: section
        "lora-3ep-fixed": {"training": {"epochs": 3, "patience": 0}},
        "full-5ep-lr5e-5": {"method": {"name": "full"}, "training": {"patience": 0}},
        "full-5ep-lr1e-4": {"method": {"name": "full"}, "training": {"patience": 0, "lr": 1e-4}},
        # zero-shot only (a few minutes each): does a gentler source stage transfer better to distant languages?
        "lora-lr3e-4-zero-shot": {"training": {"lr": 3e-4}, "protocol": {"strategies": ["zero_shot"]}},
        "full-lr5e-5-zero-shot": {"method": {"name": "full"}, "protocol": {"strategies": ["zero_shot"]}},
        # LP-FT: the head fitted on frozen features first, then fine-tuning at a low lr (zero-shot only)
        "lpft-lora-lr1e-4-zero-shot": {"training": {"head_init": "probe", "lr": 1e-4},
                                       "protocol": {"strategies": ["zero_shot"]}},
        "lpft-lora-lr3e-4-zero-shot": {"training": {"head_init": "probe", "lr": 3e-4},
                                       "protocol": {"strategies": ["zero_shot"]}},
        "lpft-full-lr1e-5-zero-shot": {"method": {"name": "full"}, "training": {"head_init": "probe", "lr": 1e-5},
                                       "protocol": {"strategies": ["zero_shot"]}},
        # zero-shot and self-training on the unlabelled target texts (the training split's texts, labels unread)
        "frozen-self-training": {"method": {"name": "frozen"}, "protocol": {"strategies": ["zero_shot", "self_training"]}},
        "lpft-lora-lr3e-4-self-training": {"training": {"head_init": "probe", "lr": 3e-4},
                                           "protocol": {"strategies": ["zero_shot", "self_training"],
                                                        "self_training": {"rounds": 1}}},
    },
}


def merge(base: dict, changes: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in changes.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def config(task: str, recipe: str, seeds: list[int], langs: list[str]) -> dict:
    base = BASES[task]
    cfg = merge(base["config"], RECIPES[task][recipe])
    cfg["protocol"] = {**cfg["protocol"], "seeds": seeds}
    return {**cfg, "name": f"recipe-{task}-{recipe}",
            "targets": [{"dataset": base["dataset"], "language": lang} for lang in langs],
            "output": {"dir": str(OUT / task / recipe), "save_predictions": False}}


def score(run: dict) -> float:
    """The task's headline score: entity F1 for tagging, macro-F1 for classification."""
    return run["metrics"]["score"] if "score" in run["metrics"] else run["metrics"]["macro_f1"]


def fmt(values: list[float]) -> str:
    if not values:
        return ""
    return f"{100 * np.mean(values):.1f}" + (f" ± {100 * np.std(values, ddof=1):.1f}" if len(values) > 1 else "")


def table(task: str, recipes: list[str], seeds: list[int], langs: list[str]) -> None:
    """One block per setting; one row per (recipe, method), methods including the simple baselines."""
    rows: dict[tuple, list[dict]] = {}
    for recipe in recipes:
        db = OUT / task / recipe / "results.sqlite"
        for r in Store(db).runs("done") if db.exists() else []:
            if r["seed"] in seeds and r["language"].split("/")[-1] in [*langs, "eng"]:
                rows.setdefault((r["strategy"], r["n"]), []).append({**r, "recipe": recipe})
    source = rows.pop(("source", None), [])
    for (strategy, n), runs in sorted(rows.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
        print(f"\n## {task}: {strategy}{f' N={n}' if n else ''} score by recipe (percent; seeds {seeds}; "
              "mean is over languages, ± is the SD of that mean over seeds)\n")
        print("| recipe | method | source | " + " | ".join(langs) + " | mean | collapsed runs |")
        print("|---|---|---|" + "---|" * len(langs) + "---|---|")
        for recipe, method in dict.fromkeys((r["recipe"], r["method"]) for r in runs):
            mine = [r for r in runs if (r["recipe"], r["method"]) == (recipe, method)]
            src = [score(r) for r in source if (r["recipe"], r["method"]) == (recipe, method)]
            by_lang = {lang: [score(r) for r in mine if r["language"].split("/")[-1] == lang]
                       for lang in langs}
            seed_means = [np.mean(v) for s in seeds
                          if len(v := [score(r) for r in mine if r["seed"] == s]) == len(langs)]
            collapsed = sum(bool(r["metrics"].get("collapsed")) for r in mine)
            print(f"| {recipe} | {method} | {fmt(src)} | " + " | ".join(fmt(by_lang[lang]) for lang in langs)
                  + f" | {fmt(seed_means)} | {collapsed}/{len(mine)} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("task", choices=sorted(RECIPES))
    ap.add_argument("--recipes", nargs="+", help="default: all of the task's recipes")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--langs", nargs="+", help="target languages; 'all' for every language of the dataset")
    ap.add_argument("--table-only", action="store_true", help="print what has been measured, train nothing")
    args = ap.parse_args()
    base = BASES[args.task]
    langs = base["all_langs"] if args.langs == ["all"] else (args.langs or base["langs"])
    recipes = args.recipes or list(RECIPES[args.task])
    if unknown := [r for r in recipes if r not in RECIPES[args.task]]:
        ap.error(f"unknown {args.task} recipe(s) {unknown}; choose from {list(RECIPES[args.task])}")
    if not args.table_only:
        for recipe in recipes:
            try:
                run_experiment(parse_config(config(args.task, recipe, args.seeds, langs)), str(DATA))
            except XltError as e:
                ap.error(str(e))
            table(args.task, [recipe], args.seeds, langs)
    table(args.task, recipes, args.seeds, langs)


if __name__ == "__main__":
    main()
