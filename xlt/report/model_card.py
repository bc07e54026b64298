"""A model card (README.md) written next to every saved model."""
from __future__ import annotations

from pathlib import Path

from xlt.data import registry


def write_model_card(out: Path, exp, key, metrics: dict, source_key: str, train_rows: int) -> None:
    datasets = {exp.source.dataset, *(t.dataset for t in exp.targets)} - {None}
    limits = [f"- {d}: {registry.DATASETS[d].note}" for d in sorted(datasets) if d in registry.DATASETS and registry.DATASETS[d].note]
    rows = metrics.get("per_class") or metrics.get("per_type") or {}
    per_class = "\n".join(f"| {lab} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} |"
                          for lab, m in rows.items())
    tokens = exp.task != "classification"
    auto = "AutoModelForTokenClassification.from_pretrained(path)" if tokens else \
        "AutoModelForSequenceClassification.from_pretrained(path, trust_remote_code=True)"
    if tokens:
        summary = (f"{'Entity F1 (strict IOB2) ' + format(metrics['f1'], '.3f') + ', precision ' + format(metrics['precision'], '.3f') + ', recall ' + format(metrics['recall'], '.3f') if exp.task == 'ner' else 'Word accuracy ' + format(metrics['accuracy'], '.3f')}.")
    else:
        summary = (f"Accuracy {metrics['accuracy']:.3f}, macro precision {metrics['macro_precision']:.3f}, "
                   f"macro recall {metrics['macro_recall']:.3f},\nmacro-F1 {metrics['macro_f1']:.3f}.")
    madx = ("MAD-X: base weights and head here, the language and task adapters in `adapters/`, stacked in "
            "the order `xlt_adapters` in config.json gives")
    adapters_load = (", then `adapters.init(model)`, `model.load_adapter(path + '/adapters/' + name, load_as=name)` "
                     "for each name in `xlt_adapters` and `model.set_active_adapters(Stack(*names))`")
    notice = exp.notice or ""
    text = f"""---
library_name: transformers
pipeline_tag: {'token-classification' if tokens else 'text-classification'}
tags: [xlt, cross-lingual-transfer]
---
# {exp.name}: {key.strategy}{' N=' + str(key.n) if key.n else ''}, {key.dataset}/{key.language}, seed {key.seed}

{('**' + notice + '**') if notice else ''}

## Intended use
Research on cross-lingual transfer: a {'tagger' if tokens else 'classifier'} trained on {source_key} and adapted to {key.dataset}/{key.language}
with the `{key.strategy}` strategy. {'Outputs are research screening signals, not diagnoses; they must not be used for decisions about individuals.' if notice else 'Not evaluated for deployment.'}

## Model
Base model `{exp.model}`, adaptation `{key.method}` ({madx if key.method == 'madx' else 'merged into the weights'}), {train_rows} training {'sentences' if tokens else 'texts'} in the last stage.
Load without xlt: `{auto}`{adapters_load if key.method == 'madx' else ''} and
`AutoTokenizer.from_pretrained(path)`; {'words are tagged on their first subword (is_split_into_words=True).' if tokens else 'prepend the text prefix in `config.json` (`xlt_text_prefix`) to every input.'}

## Metrics on the {key.language} test split ({metrics['n']} {'sentences' if tokens else 'texts'})
{summary}{' **Collapsed: ' + metrics['collapse_reason'] + '**' if metrics['collapsed'] else ''}

| {'type' if tokens else 'class'} | precision | recall | F1 | support |
|---|---|---|---|---|
{per_class}

## Limitations
- Scores come from one test split of one dataset; see the experiment report for seeds, baselines and shortcut checks.
{chr(10).join(limits)}
"""
    (out / "README.md").write_text(text)
