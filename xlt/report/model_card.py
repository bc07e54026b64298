"""The model card (README.md) written next to every saved model, built from one dataclass."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from xlt.data import registry
from xlt.files import atomic_write_text

SCREENING = ("Outputs are research screening signals, not diagnoses; they must not be used for decisions about "
             "individuals.")
MADX_LOADING = (", then `adapters.init(model)`, `model.load_adapter(path + '/adapters/' + name, load_as=name)` "
                "for each name in `xlt_adapters` and `model.set_active_adapters(Stack(*names))`")
PROMPT_LOADING = ", then `peft.PeftModel.from_pretrained(model, path + '/prompt')`"


@dataclass
class ModelCard:
    title: str
    task: object  # the xlt.tasks Task
    base_model: str
    method: str
    source: str
    target: str
    strategy: str
    train_rows: int
    metrics: dict
    notice: str = ""
    dataset_notes: list[str] = field(default_factory=list)
    alignment: str = ""  # the target-language map folded into the head (the frozen method's align:), if any

    def _alignment_note(self) -> str:
        if not self.alignment:
            return ""
        language = self.target.split("/")[-1]
        return (f"- The head holds a `{self.alignment}` map of {language} sentence vectors into the source "
                f"language's space (xlt's docs/alignment.md): give it {language} text; other languages are shifted "
                "wrongly.\n")

    def markdown(self) -> str:
        t, m = self.task, self.metrics
        per_class = "\n".join(f"| {lab} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {s['support']} |"
                              for lab, s in (m.get("per_class") or m.get("per_type") or {}).items())
        madx = self.method == "madx"
        weights = ("MAD-X: base weights and head here, the language and task adapters in `adapters/`, stacked in the "
                   "order `xlt_adapters` in config.json gives" if madx else
                   "base weights and head here, the soft prompt in `prompt/` (peft)" if self.method == "prompt" else
                   "merged into the weights")
        loading = MADX_LOADING if madx else PROMPT_LOADING if self.method == "prompt" else ""
        collapsed = f" **Collapsed: {m['collapse_reason']}**" if m.get("collapsed") else ""
        kind = "tagger" if t.data_kind == "tokens" else "classifier"
        return f"""---
library_name: transformers
pipeline_tag: {t.pipeline_tag}
tags: [xlt, cross-lingual-transfer]
---
# {self.title}

{('**' + self.notice + '**') if self.notice else ''}

## Intended use
Research on cross-lingual transfer: a {kind} trained on {self.source} and adapted to {self.target}
with the `{self.strategy}` strategy. {SCREENING if self.notice else 'Not evaluated for deployment.'}

## Model
Base model `{self.base_model}`, adaptation `{self.method}` ({weights}), {self.train_rows} training {t.unit} in the last stage.
Load without xlt: `{t.card_loading}`{loading} and
`AutoTokenizer.from_pretrained(path)`; {t.card_input}

## Metrics on the {self.target.split('/')[-1]} test split ({m['n']} {t.unit})
{t.card_summary(m)}{collapsed}

| {'type' if t.data_kind == 'tokens' else 'class'} | precision | recall | F1 | support |
|---|---|---|---|---|
{per_class}

## Limitations
- Scores come from one test split of one dataset; see the experiment report for seeds, baselines and shortcut checks.
{self._alignment_note()}{chr(10).join(self.dataset_notes)}
"""


def write_model_card(out: Path, exp, task, key, metrics: dict, source_key: str, train_rows: int,
                     aligned: dict | None = None) -> None:
    datasets = sorted({*(s.dataset for s in exp.source_list()), *(t.dataset for t in exp.targets)} - {None})
    notes = [f"- {d}: {registry.DATASETS[d].note}" for d in datasets if d in registry.DATASETS and registry.DATASETS[d].note]
    setting = f"{key.strategy}{' N=' + str(key.n) if key.n else ''}"
    card = ModelCard(f"{exp.name}: {setting}, {key.dataset}/{key.language}, seed {key.seed}", task, exp.model_path(),
                     key.method, source_key, f"{key.dataset}/{key.language}", key.strategy, train_rows, metrics,
                     exp.notice or "", notes,
                     aligned["map"] if aligned and aligned.get("map") not in (None, "none") else "")
    atomic_write_text(out / "README.md", card.markdown())
