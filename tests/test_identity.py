"""Run identity: which settings identify a run or a source stage, read from the settings' declarations,
and the hashes of stores written before the declarations existed (schema 1)."""
from __future__ import annotations

from typing import get_args

import pytest
from pydantic import BaseModel

from xlt.config import Experiment, parse_config
from xlt.errors import XltError
from xlt.identity import identity_settings, legacy_v1_hash, run_hash
from xlt.methods import METHODS
from xlt.settings import Identity, Strict, setting

BASE = {"source": {"dataset": "x"}, "targets": [{"dataset": "y", "language": "a"}], "method": {"name": "lora"},
        "protocol": {"seeds": [0], "shots": [10]}}
LABELS = ["neg", "pos"]


def h(cfg, method="lora", target=0, labels=LABELS):
    exp = parse_config(cfg)
    return run_hash(exp, method, exp.targets[target] if target is not None else None, labels)


def _sections(model: type[BaseModel], seen: set) -> list[type[BaseModel]]:
    out = [model]
    for f in model.model_fields.values():
        for a in (f.annotation, *get_args(f.annotation), *[b for a in get_args(f.annotation) for b in get_args(a)]):
            if isinstance(a, type) and issubclass(a, BaseModel) and a not in seen:
                seen.add(a)
                out += _sections(a, seen)
    return out


def test_every_setting_declares_a_known_role():
    roles = set()
    from xlt.translate import TRANSLATORS

    for section in _sections(Experiment, set()) + [m.config for m in METHODS] + [t.config for t in TRANSLATORS]:
        for name, f in section.model_fields.items():
            extra = f.json_schema_extra if isinstance(f.json_schema_extra, dict) else {}
            role = extra.get("identity", "stage")
            assert role in get_args(Identity), (section.__name__, name, role)
            roles.add(role)
    assert roles == set(get_args(Identity))  # every role is in use


def test_run_hash_depends_on_what_changes_a_run():
    same = h(BASE)
    # more seeds, another N, another target language, another method: the existing runs stay valid
    wider = {**{k: v for k, v in BASE.items() if k != "method"},
             "protocol": {"seeds": [0, 1, 2], "shots": [10, 100], "strategies": ["zero_shot", "few_shot"]},
             "targets": [*BASE["targets"], {"dataset": "y", "language": "b"}],
             "methods": [{"name": "lora"}, {"name": "full"}]}
    assert h(wider) == same and h(wider, target=None) == h(BASE, target=None)
    # where results go, how reports look and the experiment's name identify nothing
    assert h({**BASE, "name": "other", "output": {"dir": "elsewhere"}, "positive_label": "pos",
              "training": {"threads": 1, "eval_batch_size": 8}}) == same
    # anything the run's result depends on changes it
    assert h({**BASE, "training": {"lr": 1e-4}}) != same
    assert h({**BASE, "method": {"name": "lora", "r": 16}}) != same
    assert h({**BASE, "targets": [{"dataset": "y", "language": "a", "train_limit": 50}]}) != same
    assert h({**BASE, "split_ratios": {"train": 0.8, "validation": 0.1, "test": 0.1}}) != same
    assert h(BASE, labels=["neg", "neu", "pos"]) != same
    assert h(wider, method="full") != same
    assert h(BASE, target=None) != same  # the source stage does not depend on the target
    # the target stage's own settings change target runs, never the source stage (so it is reused)
    continued = {**BASE, "training": {"lr_continue": 1e-4, "epochs_continue": 20}}
    assert h(continued) != same and h(continued, target=None) == h(BASE, target=None)
    retrained = {**BASE, "protocol": {"self_training": {"rounds": 1}}}
    assert h(retrained) != same and h(retrained, target=None) == h(BASE, target=None)
    assert h({**BASE, "training": {"epochs": 9}}, target=None) != h(BASE, target=None)
    # a method's own learning rates likewise: lr_continue is the target stage's alone
    assert h({**BASE, "method": {"name": "lora", "lr": 1e-4}}) != same
    own = {**BASE, "method": {"name": "lora", "lr_continue": 1e-4}}
    assert h(own) != same and h(own, target=None) == h(BASE, target=None)


def test_only_the_keys_a_method_has_identify_its_runs():
    full = parse_config({**BASE, "method": {"name": "full"}}).method
    assert set(identity_settings(full, ("stage", "run"))) == {"name", "lr", "lr_continue", "freeze_embeddings"}
    lora = parse_config({**BASE, "method": {"name": "lora"}}).method
    assert set(identity_settings(lora, ("stage",))) == {"name", "lr", "r", "alpha", "dropout", "target_modules"}


def test_a_setting_added_later_stays_out_at_its_old_behaviour():
    class Section(Strict):
        old: int = 1
        added: str = setting("off", omit_when="off")  # "off" is what happened before the setting existed

    assert identity_settings(Section(), ("stage",)) == {"old": 1}
    assert identity_settings(Section(added="on"), ("stage",)) == {"old": 1, "added": "on"}


def test_schema_1_hashes_are_reproduced():
    """Literals computed by the code that wrote schema-1 stores (its own tests held them): a store written
    then is recognised run by run and renamed, never retrained."""
    cfg = {"name": "h", "model": "embedded:multilingual-e5-small", "method": {"name": "lora"},
           "source": {"dataset": "nusax-senti", "language": "eng"},
           "targets": [{"dataset": "nusax-senti", "language": "jav"}],
           "protocol": {"strategies": ["zero_shot", "few_shot"], "shots": [100], "seeds": [0]},
           "training": {"fast_dropout": "off", "batching": "length", "micro_batching": "off"}}
    e = parse_config(cfg)
    assert legacy_v1_hash(e, "lora", e.targets[0], ["negative", "neutral", "positive"]) == "30ee28bf0d5f332c"
    assert legacy_v1_hash(e, "lora", None, ["a"]) == "d744fb1cf648ecfd"
    assert run_hash(e, "lora", None, ["a"]) != "d744fb1cf648ecfd"  # schema 2 hashes differently


@pytest.mark.parametrize("key", ["name", "data_dir"])
def test_schema_1_hashed_keys_that_schema_2_ignores(key):
    """Schema 1 hashed the experiment name and the data mirror's path; schema 2 does not."""
    a, b = parse_config(BASE), parse_config({**BASE, key: "other"})
    assert legacy_v1_hash(a, "lora", None, LABELS) != legacy_v1_hash(b, "lora", None, LABELS)
    assert run_hash(a, "lora", None, LABELS) == run_hash(b, "lora", None, LABELS)


def test_the_self_training_quota_identifies_only_the_runs_that_self_train():
    from xlt.protocol.strategies import STRATEGIES

    even = {**BASE, "protocol": {**BASE["protocol"], "self_training": {"quota": "even"}}}
    a, b = parse_config(BASE), parse_config(even)
    assert a.protocol.self_training.quota == "source"  # text classification's default
    t = a.targets[0]
    roles = STRATEGIES.get("self_training").identity_roles
    assert roles == STRATEGIES.get("few_shot_self_training").identity_roles == ("self_training",)
    # the source stage and the runs that do not self-train keep their hashes whatever the quota
    assert run_hash(a, "lora", None, LABELS) == run_hash(b, "lora", None, LABELS)
    assert run_hash(a, "lora", t, LABELS) == run_hash(b, "lora", t, LABELS)
    # the quota changes a self-training run; the even quota (the behaviour before the setting) hashes as
    # before it existed, so stores written then resume
    assert run_hash(a, "lora", t, LABELS, roles) != run_hash(b, "lora", t, LABELS, roles)
    assert run_hash(b, "lora", t, LABELS, roles) == run_hash(b, "lora", t, LABELS)
    ner = parse_config({"task": "ner", "source": {"dataset": "x"}, "targets": [{"dataset": "y"}]})
    assert ner.protocol.self_training.quota == "even"  # token tasks take no quota
    with pytest.raises(XltError, match="self_training.quota adjust"):
        parse_config({"task": "ner", "source": {"dataset": "x"}, "targets": [{"dataset": "y"}],
                      "protocol": {"self_training": {"quota": "source"}}})


def test_meta_learning_settings_identify_only_the_meta_learning_runs():
    base = {**BASE, "protocol": {"strategies": ["few_shot", "few_shot_meta"], "shots": [10],
                                 "meta": {"languages": [{"dataset": "nusax-senti", "language": "ind"}]}}}
    other = {**base, "protocol": {**base["protocol"], "meta": {**base["protocol"]["meta"], "steps": 99}}}
    a, b = parse_config(base), parse_config(other)
    target = a.targets[0]
    assert run_hash(a, "lora", target, ["x"]) == run_hash(b, "lora", target, ["x"])  # few_shot: unchanged
    assert run_hash(a, "lora", target, ["x"], ("meta",)) != run_hash(b, "lora", target, ["x"], ("meta",))


def test_the_rare_class_guard_identifies_only_the_few_shot_runs():
    from xlt.protocol.strategies import STRATEGIES

    off = {**BASE, "protocol": {**BASE["protocol"], "prior_matching": 0.0}}  # the other few-shot setting
    on = {**off, "protocol": {**off["protocol"], "rare_class_guard": 0.25}}
    a, b = parse_config(on), parse_config(off)
    assert a.protocol.rare_class_guard == 0.25 and b.protocol.rare_class_guard == 0.0  # off unless asked for
    t, roles = a.targets[0], STRATEGIES.get("few_shot").identity_roles
    assert roles == ("few_shot",)
    assert run_hash(a, "lora", None, LABELS) == run_hash(b, "lora", None, LABELS)
    assert run_hash(a, "lora", t, LABELS) == run_hash(b, "lora", t, LABELS)  # other strategies' runs
    assert run_hash(a, "lora", t, LABELS, roles) != run_hash(b, "lora", t, LABELS, roles)
    # off (the behaviour before the guard) hashes as before it existed, so stores written then resume
    assert run_hash(b, "lora", t, LABELS, roles) == run_hash(b, "lora", t, LABELS)
    with pytest.raises(XltError, match="rare_class_guard adjust"):
        parse_config({"task": "ner", "source": {"dataset": "x"}, "targets": [{"dataset": "y"}],
                      "protocol": {"rare_class_guard": 0.5}})


def test_prior_matching_identifies_only_the_few_shot_runs_and_is_text_classification_only():
    from xlt.protocol.strategies import STRATEGIES

    a = parse_config({**BASE, "protocol": {**BASE["protocol"], "prior_matching": 1.0}})
    b = parse_config({**BASE, "protocol": {**BASE["protocol"], "prior_matching": 0.0}})
    t, roles = a.targets[0], STRATEGIES.get("few_shot").identity_roles
    assert parse_config(BASE).protocol.prior_matching == 0.5  # text classification's default
    ner = {"task": "ner", "source": {"dataset": "x"}, "targets": [{"dataset": "y"}]}
    assert parse_config(ner).protocol.prior_matching == 0.0
    assert run_hash(a, "lora", t, LABELS) == run_hash(b, "lora", t, LABELS)
    assert run_hash(a, "lora", t, LABELS, roles) != run_hash(b, "lora", t, LABELS, roles)
    assert run_hash(b, "lora", t, LABELS, roles) == run_hash(b, "lora", t, LABELS)  # off: as before it existed
    with pytest.raises(XltError, match="prior_matching adjust"):
        parse_config({**ner, "protocol": {"prior_matching": 1.0}})
    with pytest.raises(XltError, match="prior_matching"):
        parse_config({**BASE, "protocol": {**BASE["protocol"], "prior_matching": 1.5}})
