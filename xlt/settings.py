"""The building blocks of config sections: strict models and settings that declare their run identity.

Every setting says what it identifies (`identity=`), which is how xlt knows what a saved result
depends on (xlt/identity.py):
- "stage": the source stage and therefore every run (the model, the source data, training settings);
- "run": a run but not the source stage it continues (settings of the target stage only);
- "translation": the runs of strategies that translate (translate-test, translate-train) and no others;
- "meta": the runs of the meta-learning strategy (few_shot_meta) and no others;
- "lapt": the runs of the language-adaptive pretraining strategy (zero_shot_lapt) and no others;
- "self_training": the runs of the strategies that self-train (self_training, few_shot_self_training);
- "few_shot": the runs of the plain few-shot strategy (few_shot) and no others;
- "key": nothing hashed, because the setting is part of each run's key (seeds, strategies, shots);
- "none": nothing (where results are written, how reports look).
`omit_when` is for a setting added after results existed: at that value (the behaviour before it
existed) it is left out of the identity, so older results stay valid.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Identity = Literal["stage", "run", "translation", "meta", "lapt", "self_training", "few_shot", "key", "none"]
_NEVER = object()


class Strict(BaseModel):
    """Unknown keys are errors; an lr of 1e999 (inf) or .nan is a typo, not a setting."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, use_attribute_docstrings=True)


def setting(default: Any = ..., *, identity: Identity = "stage", omit_when: Any = _NEVER, **field: Any) -> Any:
    """A pydantic Field that also declares its identity role (see the module docstring)."""
    extra: dict[str, Any] = {"identity": identity}
    if omit_when is not _NEVER:
        extra["omit_when"] = omit_when
    return Field(default, json_schema_extra=extra, **field)
