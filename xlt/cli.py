"""The `xlt` command. Every user-fixable problem ends in one line `xlt: error: ...` and exit code 2."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from xlt.errors import XltError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Cross-lingual transfer learning: train on a "
                  "high-resource language, transfer to low-resource ones, measure it honestly.")
data_app = typer.Typer(no_args_is_help=True, help="Inspect datasets and preprocessing.")
models_app = typer.Typer(no_args_is_help=True, help="List and describe models.")
app.add_typer(data_app, name="data")
app.add_typer(models_app, name="models")
lexicon_app = typer.Typer(no_args_is_help=True, help="Bilingual word lists for the dictionary translator.")
app.add_typer(lexicon_app, name="lexicon")

DEMO_CONFIG = Path(__file__).with_name("presets") / "demo.yaml"


@app.command()
def run(config: Path, data_dir: Optional[str] = typer.Option(None, help="local mirror of the named datasets"),
        output: Optional[str] = typer.Option(None, help="output directory (default: output.dir of the config)"),
        dry_run: bool = typer.Option(False, "--dry-run", help="check the config, its data and its model, list the "
                                     "runs it would make and those already finished; write nothing"),
        ray: Optional[str] = typer.Option(None, "--ray", help="run the runs as Ray tasks: `--ray` alone starts a "
                                          "local instance; auto joins this machine's cluster; or host:port"),
        set_: Optional[list[str]] = typer.Option(None, "--set", help="KEY=VALUE over the config: a dotted key, a "
                                                 "YAML value, e.g. --set protocol.seeds=[1]; repeat it for more")):
    """Run every strategy, N and seed of CONFIG (finished runs are skipped), then write the report."""
    from xlt.config import load_config

    exp = load_config(config, set_ or ())
    if dry_run:
        from xlt.protocol.study import check_study, source_groups

        groups = source_groups(exp)
        plans = check_study(groups, data_dir, Path(output or exp.output.dir))
        for g, p in zip(groups, plans):
            typer.echo((f"[source set {g.name}] " if len(groups) > 1 else "") + p.summary())
        return
    from xlt.protocol.run import run_experiment
    from xlt.report import build_report

    out = run_experiment(exp, data_dir, output, ray=ray)
    md, html = build_report(out)
    typer.echo(f"results: {out / 'results.sqlite'}\nreport:  {html}\n         {md}")


@app.command()
def report(run_dir: Path):
    """Rebuild the Markdown and HTML report of RUN_DIR from its results store."""
    from xlt.report import build_report

    md, html = build_report(run_dir)
    typer.echo(f"report: {html}\n        {md}")


@app.command()
def compare(run_dir: Path, a: str = typer.Option(..., "--a", help="method name, e.g. madx"),
            b: str = typer.Option(..., "--b", help="method name to compare against, e.g. full")):
    """Paired comparison of two methods in RUN_DIR: mean difference, permutation and t-test p, Cohen's d."""
    from xlt.report import targets_of
    from xlt.report.tables import markdown_table
    from xlt.report.tokens import comparison, setting_by_method
    from xlt.store import Store

    db = run_dir / "results.sqlite"
    if not db.exists():
        raise XltError(f"{run_dir} has no results.sqlite; give the output directory of an `xlt run`")
    store = Store(db)
    runs, meta = store.runs("done"), store.meta("experiment", {})
    store.close()
    have = sorted({r["method"] for r in runs})
    for m in (a, b):
        if m not in have:
            raise XltError(f"{run_dir} has no finished runs of method {m!r}; it has {', '.join(have) or 'none'}")
    targets = meta.get("targets") or targets_of(runs)
    text = "\n\n".join([f"# {a} vs {b} ({run_dir}); scores in percent", markdown_table(*setting_by_method(runs, targets, [a, b])),
                         markdown_table(*comparison(runs, a, b))])
    from xlt.files import atomic_write_text

    atomic_write_text(run_dir / f"compare-{a}-vs-{b}.md", text + "\n")
    typer.echo(text)


@app.command()
def demo(output: str = typer.Option("runs/demo", help="output directory"),
         data_dir: Optional[str] = typer.Option(None, help="local mirror of the named datasets")):
    """NusaX-senti, English to Javanese, Sundanese and Minangkabau, with the default recipe over three seeds."""
    from xlt import load_config, run_experiment
    from xlt.report import build_report

    out = run_experiment(load_config(DEMO_CONFIG), data_dir, output)
    md, html = build_report(out)
    typer.echo(f"demo finished.\nreport: {html}\n        {md}")


@app.command()
def predict(model_dir: Path, texts: list[str] = typer.Argument(None, help="texts to classify"),
            file: Optional[Path] = typer.Option(None, help="a file with one text per line"),
            as_json: bool = typer.Option(False, "--json", help="print JSON lines"),
            onnx: Optional[str] = typer.Option(None, help="run the ONNX export instead of PyTorch: int8 or fp32 "
                                                       "(make it first with xlt export-onnx)")):
    """Classify texts (or tag their words, for NER/POS models) with a saved model directory."""
    from xlt.files import read_utf8
    from xlt.serve.predict import Predictor

    items = list(texts or [])
    if file is not None:
        if not file.exists():
            raise XltError(f"file not found: {file}")
        items += [line for line in read_utf8(file).splitlines() if line.strip()]
    if not items:
        raise XltError("no texts: give them as arguments or with --file")
    p = Predictor(model_dir, onnx=onnx)
    if p.notice:
        typer.echo(f"notice: {p.notice}", err=True)
    for text, res in zip(items, p.predict_records(items)):
        if as_json:
            typer.echo(json.dumps({"text": text, **res, **({"notice": p.notice} if p.notice else {})}, ensure_ascii=False))
        elif "error" in res:
            typer.echo(f"error: {res['error']}\t{text[:80]!r}")
        elif "tags" in res:  # token model: word/TAG
            typer.echo(" ".join(f"{w}/{t}" for w, t in zip(res["tokens"], res["tags"])))
        else:
            probs = " ".join(f"{k}={v:.3f}" for k, v in res["probabilities"].items())
            typer.echo(f"{res['label']}\t{probs}\t{text[:80]}")


def _translator(spec: str, lexicons: list[str], dataset: Optional[str], model: Optional[str], src: str, tgt: str,
                data_dir: Optional[str]):
    """A translator from the command line: a name (with --lexicon, --dataset or --model) or a YAML mapping
    as the config's translation.translator takes it."""
    import yaml

    from xlt.config import _explain
    from xlt.translate import TRANSLATORS, get_translator

    try:
        settings = yaml.safe_load(spec) if spec.lstrip().startswith("{") else {"name": spec}
    except yaml.YAMLError as exc:
        raise XltError(f"--translator {spec!r} is neither a translator's name nor a YAML mapping ({exc.problem})") \
            from None
    name = settings.get("name") if isinstance(settings, dict) else None
    cls = TRANSLATORS.get(str(name))
    if lexicons:
        settings["lexicons"] = [_lexicon(x) for x in lexicons]
    if dataset:
        settings["dataset"] = dataset
    if model:
        settings.update(model=model, pairs=settings.get("pairs") or [[src, tgt]])
    from pydantic import ValidationError

    try:
        cfg = cls.config.model_validate(settings)
    except ValidationError as exc:
        raise XltError(_explain(exc.errors()[0], "--translator", "").replace("--translator: ", "--translator ")) \
            from None
    return get_translator(cfg, data_dir)


def _lexicon(text: str) -> dict:
    """--lexicon wiktionary-bli/swa, or PATH:LANG[:source-target|target-source] (own list, English first)."""
    from xlt.data.lexicons import DICTIONARIES

    name, _, lang = text.partition("/")
    if name in DICTIONARIES and lang:
        return {"dictionary": name, "language": lang}
    path, _, rest = text.partition(":")
    lang, _, order = rest.partition(":")
    if not lang:
        raise XltError(f"--lexicon {text}: give a named list as NAME/LANG ({', '.join(DICTIONARIES)}) or your own "
                       "as PATH:LANG[:source-target|target-source]")
    return {"path": path, "language": lang, "order": order or "source-target"}


TRANSLATOR_HELP = "apertium, dictionary, parallel, hf, or a YAML mapping such as '{name: apertium}'"


@app.command()
def serve(models: list[Path] = typer.Argument(..., help="saved model directory (with --ui: a classification "
                                            "and an NER model)"),
          host: str = typer.Option("127.0.0.1", help="bind address (localhost by default)"),
          port: int = typer.Option(8000), max_texts: int = typer.Option(64, help="texts per request at most"),
          max_chars: int = typer.Option(10_000, help="characters per text at most"),
          onnx: Optional[str] = typer.Option(None, help="serve the ONNX export (int8 or fp32) instead of PyTorch"),
          ui: bool = typer.Option(False, "--ui", help="the language-processing page: language, English "
                                  "translation, classification, entities, audio"),
          translator: str = typer.Option("apertium", help="--ui: " + TRANSLATOR_HELP),
          lexicon: list[str] = typer.Option([], help="--ui with the dictionary translator: NAME/LANG or "
                                            "PATH:LANG[:ORDER]"),
          data_dir: Optional[str] = typer.Option(None, help="local mirror of the named datasets")):
    """Serve a saved model over HTTP: POST /predict {"texts": [...]}, GET /health; or, with --ui, the
    language-processing page at http://HOST:PORT/."""
    if ui:
        import uvicorn

        from xlt.serve.ui import create_ui_app
        from xlt.translate.cache import TranslationCache, default_path

        t = _translator(translator, lexicon, None, None, "xxx", "eng", data_dir)
        app_ = create_ui_app(models, t, TranslationCache(default_path()), max_chars=min(max_chars, 2_000))
        typer.echo(f"language-processing page: http://{host}:{port}/")
        uvicorn.run(app_, host=host, port=port, log_level="info")
        return
    if len(models) != 1:
        raise XltError("give one model directory (several are for the --ui page)")
    from xlt.serve.http import serve as run_server

    run_server(models[0], host=host, port=port, max_texts=max_texts, max_chars=max_chars, onnx=onnx)


@app.command("export")
def export(fmt: str = typer.Argument(..., metavar="FORMAT", help="mlflow, csv, jsonl or transfer"),
           run_dir: Path = typer.Argument(..., help="the output folder of an xlt run"),
           tracking_uri: Optional[str] = typer.Option(None, help="mlflow: the tracking server or store (default: "
                                                                 "MLflow's SQLite store RUN_DIR/mlflow.db)"),
           experiment: Optional[str] = typer.Option(None, help="mlflow: the experiment name (default: the "
                                                    "config's)"),
           output: Optional[Path] = typer.Option(None, help="csv/jsonl/transfer: the file (default: RUN_DIR/"
                                                 "runs.FORMAT, or RUN_DIR/transfer.csv)")):
    """Export finished runs: to MLflow (one MLflow run per xlt run, new runs only), as a flat CSV / JSON-lines
    table of runs for pandas and spreadsheets, or as the zero-shot transfer matrix (source,target,score) that
    `xlt rank-sources --train-from` reads."""
    from xlt.export import to_mlflow, write_table, write_transfer

    if not (run_dir / "results.sqlite").exists() and not (run_dir / "study.json").exists():
        raise XltError(f"{run_dir} holds no xlt results (no results.sqlite or study.json); give the output folder "
                       "of an `xlt run`")
    if fmt == "mlflow":
        res = to_mlflow(run_dir, tracking_uri, experiment)
        typer.echo(f"MLflow experiment {res['experiment']!r} at {res['tracking_uri']}: {res['written']} runs "
                   f"written, {res['skipped']} already there")
        return
    if fmt == "transfer":
        path, n = write_transfer(run_dir, output)
        typer.echo(f"wrote {n} source -> target scores to {path}")
        return
    path, n = write_table(run_dir, fmt, output)
    typer.echo(f"wrote {n} runs to {path}")


@app.command("export-onnx")
def export_onnx(model_dir: Path, precision: str = typer.Option("int8", help="int8 (weights quantized per channel) "
                                                                            "or fp32")):
    """Export a saved classification model to <model_dir>/onnx/ for faster CPU prediction (--onnx in predict/serve)."""
    from xlt.serve.onnx import export_onnx as export

    res = export(model_dir, precision)
    typer.echo(f"wrote {res['path']} ({res['size_mb']} MB); checked against PyTorch: labels agree "
               f"on {res['labels_agree']} texts, largest probability difference {res['max_abs_prob_diff']:.4f}")


@data_app.command("inspect")
def data_inspect(config: Path, data_dir: Optional[str] = typer.Option(None)):
    """Show, per language, what reading, label mapping and each preprocessing step changed or dropped, and the splits."""
    from xlt.config import load_config
    from xlt.protocol.plan import load_data
    from xlt.tasks import get_task

    from xlt.protocol.plan import reading_once
    from xlt.protocol.study import source_groups

    exp = load_config(config)
    groups = source_groups(exp)
    with reading_once():
        for g in groups:
            *_, lines = load_data(g.exp, data_dir, get_task(exp.task))
            typer.echo((f"# source set {g.name}\n" if len(groups) > 1 else "") + "\n".join(lines))


@data_app.command("list")
def data_list():
    """Named datasets xlt can load."""
    from xlt.data.registry import DATASETS

    for name, spec in DATASETS.items():
        typer.echo(f"{name:<30} languages: {', '.join(spec.languages)}")


@models_app.command("list")
def models_list():
    """Models available offline."""
    from xlt.models.embedded import INFO

    typer.echo(f"{INFO['name']:<36} {INFO['architecture']} (built in, offline)")
    typer.echo("any Hugging Face encoder by hub id (online) or local directory path")


@models_app.command("info")
def models_info(name: str = typer.Argument("embedded:multilingual-e5-small")):
    """Parameters, languages, size, cache location and licence of a model."""
    from xlt.models import resolve
    from xlt.models.embedded import INFO

    spec = resolve(name)
    from transformers import AutoModel

    model = AutoModel.from_pretrained(spec.path, add_pooling_layer=False) if spec.pooling == "mean" else AutoModel.from_pretrained(spec.path)
    n_params = sum(p.numel() for p in model.parameters())
    size = sum(f.stat().st_size for f in spec.path.glob("*") if f.is_file())
    info = dict(INFO) if name.startswith("embedded:") else {"name": name}
    info.update({"parameters": f"{n_params:,}", "size on disk": f"{size / 2**20:.0f} MiB",
                 "location": str(spec.path), "pooling": spec.pooling, "text prefix": repr(spec.text_prefix)})
    for k, v in info.items():
        typer.echo(f"{k:<14} {v}")


@app.command()
def recover(run_dir: Path):
    """Copy the runs a damaged results.sqlite still holds into a new store; the damaged file is kept beside it."""
    from xlt.store import recover as recover_store

    db = run_dir / "results.sqlite"
    if not db.exists():
        raise XltError(f"{run_dir} has no results.sqlite; give the output directory of an `xlt run`")
    kept, damaged = recover_store(db)
    typer.echo(f"kept {kept} finished run(s) in {db}; the damaged store is {damaged}. Run the same config again "
               "to redo the rest.")


@app.command("rank-sources")
def rank_sources(target: str = typer.Argument(..., help="the target, dataset/language (e.g. nusax-senti/jav)"),
                 candidates: str = typer.Option("all", help="comma-separated dataset/language keys, or all (every "
                                                "other language of the target's dataset; with --config, the "
                                                "config's sources)"),
                 config: Optional[Path] = typer.Option(None, "--config", help="a config whose sources and targets "
                                                       "(your own files among them) can be ranked by their keys, "
                                                       "name/language, and are described by its data settings"),
                 train_from: list[Path] = typer.Option([], "--train-from", help="output folder(s) of transfer "
                                                       "runs (a transfer matrix), or CSV files of measured "
                                                       "transfer (source,target,score): trains the learned ranker"),
                 evaluate: bool = typer.Option(False, "--evaluate", help="with --train-from: score the rankers "
                                               "leave-one-target-out (NDCG@3, regret) and print the result"),
                 record: bool = typer.Option(False, "--record", help="with --train-from: the learned ranker also "
                                             "reads each source's record on the other measured targets (how far "
                                             "above the other candidates it transferred); an option, see the "
                                             "multi-source docs for when it helped"),
                 langrank: bool = typer.Option(False, "--langrank", help="with --train-from: the learned ranker "
                                               "also reads the rest of LANGRANK's features (word overlap, "
                                               "type-token ratios, target size, featural distance); an option, "
                                               "see the multi-source docs"),
                 top: int = typer.Option(0, "--top", min=0, help="also print a sources: block of the K "
                                         "best-ranked sources, to paste into a config and train on together"),
                 model: str = typer.Option("embedded:multilingual-e5-small", help="model whose tokenizer measures "
                                           "subword overlap"),
                 data_dir: Optional[str] = typer.Option(None, help="local mirror of the named datasets")):
    """Rank candidate source languages for TARGET, with the features behind each rank."""
    from xlt.ranking.api import evaluate_rankers, rank_sources as rank

    def warn(message: str) -> None:
        typer.echo(message, err=True)

    if evaluate:
        res = evaluate_rankers(train_from, config, model, data_dir, warn)
        typer.echo(f"leave-one-target-out over {len(res.attrs['targets'])} targets:")
        typer.echo(f"{'ranker':<16} {'NDCG@3':>7} {'regret':>7} {'top-1 within 2 points':>22}")
        for name, v in res.iterrows():
            share = 100 * v["within_2_points"]
            typer.echo(f"{name:<16} {v['ndcg3']:>7.3f} {100 * v['regret']:>7.2f} {share:>21.0f}%")
        return
    ranks = rank(target, None if candidates == "all" else candidates, train_from, config, record, langrank, model,
                 data_dir, warn)
    typer.echo(f"sources for {target} ({ranks.attrs['ranker']}; URIEL distances: lower is closer)")
    short = {"subword_overlap": "subword", "source_size": "log size", "label_overlap": "labels",
             "source_record": "record", "word_overlap": "words", "ttr_source": "TTR src", "ttr_target": "TTR tgt",
             "ttr_distance": "TTR dist", "target_size": "tgt size", "size_ratio": "log ratio"}
    columns = [c for c in ranks.columns if c != "source"]
    typer.echo("  ".join(f"{h:>9}" for h in ["rank", "source", *[short.get(c, c) for c in columns]]))
    several = len({k.split("/")[0] for k in ranks["source"]}) > 1  # several datasets: show whole keys
    for rank_no, row in ranks.iterrows():
        vals = ["" if row[c] is None or row[c] != row[c] else f"{row[c]:.3f}" for c in columns]
        name = row["source"] if several else row["source"].split("/")[-1]
        typer.echo("  ".join(f"{v:>9}" for v in [str(rank_no), name, *vals]))
    if top:
        import yaml

        from xlt.ranking.api import sources_block

        typer.echo(f"\n# the top {min(top, len(ranks))}, to train on together (docs/multi-source.md)")
        typer.echo(yaml.safe_dump(sources_block(ranks, top), sort_keys=False, default_flow_style=None).rstrip())


@app.command()
def translate(files: list[Path] = typer.Argument(None, help="text files, one segment per line (default: stdin)"),
              src: str = typer.Option(..., "--from", help="source language, ISO 639-3 (spa)"),
              tgt: str = typer.Option(..., "--to", help="target language, ISO 639-3 (eng)"),
              translator: str = typer.Option("apertium", help=TRANSLATOR_HELP),
              lexicon: list[str] = typer.Option([], help="dictionary: NAME/LANG (wiktionary-bli/swa) or "
                                                 "PATH:LANG[:ORDER]; repeatable"),
              dataset: Optional[str] = typer.Option(None, help="parallel: the parallel dataset (nusax-senti)"),
              model: Optional[str] = typer.Option(None, help="hf: hub id or local directory"),
              cache: Optional[Path] = typer.Option(None, help="translation cache (default: xlt's user cache)"),
              stats: bool = typer.Option(False, help="print the cache statistics on stderr"),
              data_dir: Optional[str] = typer.Option(None, help="local mirror of the named datasets")):
    """Translate text files (or standard input), one segment per line, through the translation cache."""
    from xlt.translate.cache import TranslationCache, default_path
    from xlt.translate.evaluate import read_lines

    t = _translator(translator, lexicon, dataset, model, src, tgt, data_dir)
    t.check_pair(src, tgt)
    if files:
        lines = []
        for f in files:
            got = read_lines(f)
            if not got:
                raise XltError(f"{f} is empty: nothing to translate (one segment per line)")
            lines += got
    else:
        lines = sys.stdin.read().rstrip("\n").split("\n")
        if lines == [""]:
            raise XltError("standard input is empty: nothing to translate (one segment per line)")
    c = TranslationCache(cache or default_path())
    for line in c.translate(t, lines, src, tgt):
        typer.echo(line)
    if stats:
        typer.echo(json.dumps(c.stats.as_dict()), err=True)


@lexicon_app.command("induce")
def lexicon_induce(dataset: str = typer.Option(..., help="a parallel dataset (nusax-senti, sib-200)"),
                   src: str = typer.Option(..., "--from", help="source language, ISO 639-3 (the list's first column)"),
                   tgt: str = typer.Option(..., "--to", help="target language, ISO 639-3"),
                   split: str = typer.Option("train", help="the split whose sentence pairs are read"),
                   output: Path = typer.Option(..., help="the word list to write: source<TAB>target per line"),
                   min_count: int = typer.Option(2, help="sentences a word must appear in"),
                   min_dice: float = typer.Option(0.3, help="the least Dice coefficient kept"),
                   data_dir: Optional[str] = typer.Option(None, help="local mirror of the named datasets")):
    """Induce a word list from a parallel dataset's sentence pairs (Dice co-occurrence), for the dictionary
    translator: `{path: OUTPUT, language: TO, order: source-target}`."""
    from xlt.files import atomic_write_text
    from xlt.translate.induce import induce_lexicon, sentence_pairs

    if output.is_dir() or not output.parent.is_dir():
        raise XltError(f"--output {output} must be a file in an existing folder (the word list is written there)")
    pairs = sentence_pairs(dataset, src, tgt, split, data_dir)
    words = induce_lexicon(pairs, min_count, min_dice)
    if not words:
        raise XltError(f"no word pair reached Dice {min_dice} in {len(pairs)} sentence pairs; lower --min-dice")
    atomic_write_text(output, "".join(f"{a}\t{b}\n" for a, b, _ in words))
    typer.echo(f"{len(words)} word pairs from {len(pairs)} sentence pairs of {dataset} {split} -> {output}")


@app.command("mt-eval")
def mt_eval(src: str = typer.Option(..., "--from", help="source language, ISO 639-3"),
            tgt: str = typer.Option(..., "--to", help="target language, ISO 639-3"),
            translator: list[str] = typer.Option(["apertium"], help=TRANSLATOR_HELP + "; repeatable"),
            tatoeba: bool = typer.Option(False, "--tatoeba", help="score on LASER's Tatoeba test pairs (the "
                                         "non-English side of --from/--to) from the data mirror"),
            source_file: Optional[Path] = typer.Option(None, "--source", help="source segments, one per line"),
            reference: Optional[Path] = typer.Option(None, help="reference translations, one per line"),
            hypothesis: Optional[Path] = typer.Option(None, help="score this file instead of translating"),
            lexicon: list[str] = typer.Option([], help="dictionary: NAME/LANG or PATH:LANG[:ORDER]"),
            dataset: Optional[str] = typer.Option(None, help="parallel: the parallel dataset"),
            model: Optional[str] = typer.Option(None, help="hf: hub id or local directory"),
            cache: Optional[Path] = typer.Option(None, help="translation cache (default: xlt's user cache)"),
            as_json: bool = typer.Option(False, "--json", help="print JSON lines"),
            data_dir: Optional[str] = typer.Option(None, help="local mirror of the named datasets")):
    """Score translators with sacrebleu (BLEU, chrF, chrF++ and their signatures), beside copying the input
    and the dictionary translator where a lexicon pairs the languages."""
    from xlt.translate.cache import TranslationCache, default_path
    from xlt.translate.evaluate import evaluate, read_lines, score, tatoeba as tatoeba_pairs

    if hypothesis is not None:
        if reference is None:
            raise XltError("--hypothesis needs --reference (one reference line per hypothesis line)")
        rows = [score(str(hypothesis), read_lines(hypothesis), read_lines(reference))]
    else:
        if tatoeba:
            if "eng" not in (src, tgt):
                raise XltError("Tatoeba pairs each language with English: one of --from/--to must be eng")
            other, english = tatoeba_pairs(tgt if src == "eng" else src, data_dir)
            sources, refs = (english, other) if src == "eng" else (other, english)
        elif source_file is not None and reference is not None:
            sources, refs = read_lines(source_file), read_lines(reference)
        else:
            raise XltError("give --tatoeba, or --source and --reference, or --hypothesis and --reference")
        systems = [_translator(t, lexicon, dataset, model, src, tgt, data_dir) for t in translator]
        rows = evaluate(systems, sources, refs, src, tgt, TranslationCache(cache or default_path()), data_dir)
    if as_json:
        for r in rows:
            typer.echo(json.dumps({"from": src, "to": tgt, **r.as_dict()}, ensure_ascii=False))
        return
    typer.echo(f"{src} -> {tgt}")
    typer.echo(f"{'system':<28} {'BLEU':>6} {'chrF':>6} {'chrF++':>7}")
    for r in rows:
        typer.echo(f"{r.system:<28} {r.bleu:>6.1f} {r.chrf:>6.1f} {r.chrf_pp:>7.1f}")
    for name, sig in rows[-1].signatures.items():
        typer.echo(f"{name} signature: {sig}")


@app.command()
def reference():
    """Print the reference page (config keys, methods, strategies, tasks, datasets) generated from the code."""
    from xlt.reference import config_reference

    typer.echo(config_reference(), nl=False)


def _ray_flag(args: list[str]) -> list[str]:
    """`--ray` takes an optional address: alone (or before another option) it means a local instance."""
    out = []
    for i, a in enumerate(args):
        out.append(a)
        nxt = args[i + 1] if i + 1 < len(args) else None
        if a == "--ray" and (nxt is None or nxt.startswith("-")):
            out.append("local")
    return out


def main() -> None:
    import os

    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # "newly initialized head" notices are expected here
    try:
        app(args=_ray_flag(sys.argv[1:]), standalone_mode=False)
    except XltError as exc:
        typer.echo(f"xlt: error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("xlt: interrupted; finished runs are saved, run the same command again to resume", err=True)
        sys.exit(130)
    except Exception as exc:  # click usage errors
        kinds = _click_exceptions()
        if isinstance(exc, _kinds(kinds, "ClickException")):
            exc.show()
            sys.exit(2)
        if isinstance(exc, _kinds(kinds, "Exit")):
            sys.exit(exc.exit_code)
        if isinstance(exc, _kinds(kinds, "Abort")):
            sys.exit(130)
        raise


def _kinds(modules: list, name: str) -> tuple:
    """The exception class `name` from each module that has it (a vendored copy may lack some)."""
    return tuple(getattr(m, name) for m in modules if hasattr(m, name))


def _click_exceptions() -> list:
    """click's exception module, and the copy of it that newer typer releases vendor and raise instead."""
    import click

    kinds = [click.exceptions]
    try:
        from typer._click import exceptions as vendored
    except ImportError:
        return kinds
    return kinds + [vendored]


if __name__ == "__main__":
    main()
