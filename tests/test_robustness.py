"""The robustness levers of a classification run (xlt/protocol/adjust.py, xlt/protocol/choice.py) and the
report's warnings about results not to be trusted (xlt/report/trust.py)."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import tiny_config
from xlt.evaluate.label_shift import class_shares, em_priors, reweigh


def _posteriors(prior: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Texts drawn with class prior `prior` from three 1-d Gaussians, and the exact posteriors of a model
    trained under a uniform prior (a calibrated classifier)."""
    rng = np.random.default_rng(seed)
    y = rng.choice(3, size=n, p=prior)
    x = rng.normal(np.array([-1.5, 0.0, 1.5])[y], 1.0)
    like = np.exp(-0.5 * (x[:, None] - np.array([-1.5, 0.0, 1.5])[None]) ** 2)
    return like / like.sum(1, keepdims=True), y


def test_em_recovers_a_shifted_prior_and_improves_accuracy():
    true = np.array([0.7, 0.2, 0.1])
    probs, y = _posteriors(true, 20000, 0)
    adjusted, est = em_priors(probs, np.ones(3) / 3)
    assert est.converged and np.abs(np.array(est.target_prior) - true).max() < 0.03
    assert (adjusted.argmax(1) == y).mean() > (probs.argmax(1) == y).mean() + 0.02
    np.testing.assert_allclose(adjusted.sum(1), 1.0)


def test_em_keeps_an_unshifted_prior_and_classes_absent_from_training():
    probs, _ = _posteriors(np.ones(3) / 3, 20000, 1)
    _, est = em_priors(probs, np.ones(3) / 3)
    assert np.abs(np.array(est.target_prior) - 1 / 3).max() < 0.02
    _, est = em_priors(probs, np.array([0.5, 0.5, 0.0]))
    assert est.target_prior[2] == 0.0


def test_map_em_moves_the_prior_at_most_part_of_the_way():
    true = np.array([0.7, 0.2, 0.1])
    probs, _ = _posteriors(true, 20000, 0)
    _, plain = em_priors(probs, np.ones(3) / 3)
    _, damped = em_priors(probs, np.ones(3) / 3, strength=1.0)
    moved = np.array(damped.target_prior) - 1 / 3
    assert np.all(np.abs(moved) <= np.abs(np.array(plain.target_prior) - 1 / 3) / 2 + 1e-3)
    assert damped.target_prior[0] > 0.45  # still towards the shifted class


def test_reweigh_is_bayes_rule_with_a_new_prior():
    p = np.array([[0.5, 0.5]])
    np.testing.assert_allclose(reweigh(p, np.array([0.5, 0.5]), np.array([0.8, 0.2])), [[0.8, 0.2]])
    np.testing.assert_allclose(class_shares(["a", "b", "b", "c"], ["a", "b"]), [1 / 3, 2 / 3])


def test_cv_folds_are_stratified_and_cover_every_shot():
    from xlt.data.examples import Example
    from xlt.protocol.choice import folds

    rows = [Example(text=str(i), label="a" if i % 3 else "b") for i in range(30)]
    parts = folds(rows, 5, 0)
    assert sorted(i for p in parts for i in p) == list(range(30)) and len(parts) == 5
    assert all(sum(rows[i].label == "b" for i in p) == 2 for p in parts)
    few = rows[:5]  # "b" twice: at most two stratified folds
    assert len(folds(few, 5, 0)) == 2


def _levers_run(tiny_model_dir, tiny_data, out, method=None, training=None, **protocol):
    from xlt import run_experiment
    from xlt.config import parse_config
    from xlt.store import Store

    cfg = tiny_config(tiny_model_dir, tiny_data, out, method=method or {"name": "frozen"},
                      baselines=["embedding-lr"])
    cfg["output"]["save_predictions"] = True
    cfg["training"] = {**cfg.get("training", {}), **(training or {})}
    cfg["protocol"] = {"strategies": ["zero_shot", "few_shot"], "shots": [20], "seeds": [0], **protocol}
    run_experiment(parse_config(cfg))
    return {(r["method"], r["strategy"]): r for r in Store(out / "results.sqlite").runs()}


def test_levers_leave_their_trace_in_the_record_and_never_read_test_labels(tiny_model_dir, tiny_data, tmp_path):
    runs = _levers_run(tiny_model_dir, tiny_data, tmp_path / "a", {"name": "frozen", "few_shot_choice": "cv"},
                       label_shift="em", ensemble="embedding-head", cv_folds=3)
    zs = runs[("frozen", "zero_shot")]["train_info"]["predictions"]
    assert zs["ensemble"]["with"] == "embedding-head" and zs["label_shift"]["converged"]
    assert abs(sum(zs["label_shift"]["target_prior"]) - 1) < 1e-3
    assert sum(zs["predicted_shares"].values()) == pytest.approx(1.0, abs=1e-3)
    choice = runs[("frozen", "few_shot")]["train_info"]["few_shot_choice"]
    assert choice["chosen"] in ("few_shot", "average", "zero_shot") and choice["folds"] == 3
    assert set(choice["cv_macro_f1"]) == {"few_shot", "average", "zero_shot"}
    # the baselines stay simple: nothing adjusts them
    assert "predictions" not in runs[("embedding-lr", "zero_shot")]["train_info"]


def test_a_fine_tuned_method_can_ask_for_the_cross_validated_few_shot_choice(tiny_model_dir, tiny_data, tmp_path):
    """Each fold continues the source stage once more; the kept model is the one the record names."""
    runs = _levers_run(tiny_model_dir, tiny_data, tmp_path / "a",
                       method={"name": "full", "freeze_embeddings": False, "few_shot_choice": "cv"}, cv_folds=2,
                       prior_matching=0.0)  # which would shift whichever model is kept
    choice = runs[("full", "few_shot")]["train_info"]["few_shot_choice"]
    assert choice["folds"] == 2 and choice["chosen"] in ("few_shot", "average", "zero_shot")
    # the zero-shot candidate never saw a shot: when kept, the run scores as the zero-shot run does
    if choice["chosen"] == "zero_shot":
        assert runs[("full", "few_shot")]["metrics"]["macro_f1"] == runs[("full", "zero_shot")]["metrics"]["macro_f1"]


def test_collapse_guard_falls_back_to_the_embedding_head_with_a_note(monkeypatch):
    """Nearly every text in one class: the embedding head's predictions replace the model's when they are less
    one-sided, and the record says so; when the head is as one-sided, the model's are kept."""
    from types import SimpleNamespace

    from xlt.config import Protocol
    from xlt.data.examples import Example
    from xlt.protocol import adjust

    ctx = SimpleNamespace(labels=["neg", "pos"], exp=SimpleNamespace(protocol=Protocol(collapse_guard=0.9)))
    train = [Example(text=str(i), label="neg" if i % 2 else "pos") for i in range(10)]
    monkeypatch.setattr(adjust, "strategy_rows", lambda ctx, key: (train, [], "x"))
    one_sided = np.array([[0.8, 0.2]] * 19 + [[0.3, 0.7]])
    head = np.array([[0.7, 0.3]] * 10 + [[0.2, 0.8]] * 10)
    monkeypatch.setattr(adjust, "embedding_head_probabilities", lambda ctx, key, test: (head, {}))
    probs, record = adjust.adjust_predictions(ctx, None, [None] * 20, one_sided)
    assert record["collapse_guard"]["fell_back"] and record["collapse_guard"]["label"] == "neg"
    assert "95% of the predictions were neg" in record["collapse_guard"]["note"]
    np.testing.assert_array_equal(probs, head)
    assert record["predicted_shares"] == {"neg": 0.5, "pos": 0.5} and "prior_estimate" in record
    monkeypatch.setattr(adjust, "embedding_head_probabilities", lambda ctx, key, test: (one_sided, {}))
    probs, record = adjust.adjust_predictions(ctx, None, [None] * 20, one_sided)
    assert not record["collapse_guard"]["fell_back"] and "as one-sided" in record["collapse_guard"]["note"]
    balanced = np.array([[0.8, 0.2]] * 10 + [[0.2, 0.8]] * 10)
    assert "collapse_guard" not in adjust.adjust_predictions(ctx, None, [None] * 20, balanced)[1]


def test_levers_are_refused_for_token_tasks():
    from xlt.config import parse_config
    from xlt.errors import XltError

    with pytest.raises((XltError, ValueError), match="label_shift"):
        parse_config({"task": "ner", "source": {"dataset": "conll2003"}, "targets": [{"dataset": "masakhaner2",
                      "language": "swa"}], "baselines": [], "protocol": {"label_shift": "em"}})


def _run(method, lang, strategy, n, seed, score, info=None):
    return {"method": method, "dataset": "d", "language": lang, "strategy": strategy, "n": n, "seed": seed,
            "metrics": {"score": score, "macro_f1": score}, "train_info": info or {}}


def test_trust_warnings_name_what_is_wrong():
    from xlt.report.trust import trust_warnings

    runs = [_run("frozen", "x", "zero_shot", None, s, 0.60 + 0.001 * s) for s in range(3)]
    runs += [_run("embedding-lr", "x", "zero_shot", None, s, 0.65) for s in range(3)]
    runs += [_run("frozen", "x", "few_shot", 50, s, 0.70 + 0.01 * s) for s in range(3)]
    runs += [_run("frozen", "x", "few_shot", 100, s, 0.62 + 0.01 * s) for s in range(3)]  # falls beyond the SD
    lean = {"predictions": {"predicted_shares": {"a": 0.9, "b": 0.1}, "train_shares": {"a": 0.5, "b": 0.5},
                            "prior_estimate": {"target_prior": [0.5, 0.5]}}}
    runs.append(_run("frozen", "y", "zero_shot", None, 0, 0.5, lean))
    text = " | ".join(trust_warnings(runs, ["frozen"]))
    assert "below the frozen-embedding baseline" in text and "d/x Zero-shot: frozen 0.601 < 0.650" in text
    assert "90% predicted a" in text
    assert "N=50 0.710 -> N=100 0.630" in text
    calm = [_run("frozen", "x", "few_shot", n, s, 0.6 + n / 1000) for n in (50, 100) for s in range(3)]
    assert trust_warnings(calm, ["frozen"]) == []


def test_pseudo_label_quota_follows_the_source_class_mix():
    from xlt.tasks.classification import confident_per_class

    probs = np.array([[0.9, 0.1]] * 6 + [[0.2, 0.8]] * 4)
    assert confident_per_class(probs, 1.0) == [0, 1, 2, 3, 4, 6, 7, 8, 9]  # 5 per class at most
    assert confident_per_class(probs, 0.4) == [0, 1, 6, 7]  # even: 2 per class
    assert confident_per_class(probs, 0.4, [0.8, 0.2]) == [0, 1, 2, 6]  # the source's 80/20: 3 and 1


def test_predicted_quota_keeps_the_same_share_of_each_predicted_class():
    from xlt.tasks.classification import confident_per_class

    conf = np.array([0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.9, 0.7])
    probs = np.stack([conf, 1 - conf], 1)
    probs[8:] = probs[8:, ::-1]  # texts 8 and 9 predicted as class 1
    # half of each predicted class, the most confident first: 4 of the 8 and 1 of the 2 (even would keep 2.5 each)
    assert confident_per_class(probs, 0.5, "predicted") == [0, 1, 2, 3, 8]
    assert confident_per_class(probs, 0.5) == [0, 1, 8, 9]


@pytest.mark.parametrize("starve,weighted", [(True, False), (False, False), (True, True)])
def test_rare_class_guard_refits_with_class_weights_only_where_a_shot_class_goes_unpredicted(
        tiny_model_dir, tiny_data, tmp_path, monkeypatch, starve, weighted):
    """The guard compares the shots' class mix with the mix the fitted model predicts on the target's other
    texts: a class of the shots predicted for under the ratio of its share is a refit with class weights,
    unless training.class_weighted_loss already weighed the first fit (a refit would repeat it)."""
    from xlt.protocol import rare_class
    from xlt.protocol.strategies import few_shot

    calls = []
    real = few_shot.continue_on_target
    monkeypatch.setattr(few_shot, "continue_on_target",
                        lambda *a, **k: calls.append(k.get("class_weighted", False)) or real(*a, **k))
    seen_texts = []

    def predict(ctx, method, model, texts):
        seen_texts.extend(texts)
        labels = [ctx.labels[0] if starve else ctx.labels[i % 2] for i in range(len(texts))]
        return labels, np.eye(len(ctx.labels))[[ctx.labels.index(lab) for lab in labels]]

    monkeypatch.setattr(rare_class, "predict_texts", predict)
    runs = _levers_run(tiny_model_dir, tiny_data, tmp_path / "a", training={"class_weighted_loss": weighted},
                       rare_class_guard=0.25)
    guard = runs[("frozen", "few_shot")]["train_info"]["rare_class_guard"]
    labels = list(guard["shot_shares"])
    refit = starve and not weighted
    assert sum(guard["shot_shares"].values()) == pytest.approx(1.0) and guard["ratio"] == 0.25
    assert guard["starved"] == ([labels[1]] if starve else []) and guard["refit"] is refit
    assert calls == ([False, True] if refit else [False])
    assert ("class_weighted_loss already" in guard.get("note", "")) is (starve and weighted)
    # the texts it reads are the target's training and validation texts, the shots left out, labels unread
    assert guard["texts"] == len(seen_texts) == 100 + 30 - 20
    assert "rare_class_guard" not in runs[("frozen", "zero_shot")]["train_info"]


def test_prior_matching_reuses_the_guards_predictions_where_the_model_did_not_change(
        tiny_model_dir, tiny_data, tmp_path, monkeypatch):
    """With the rare-class guard and prior matching both on and no refit, the target's unlabelled texts are
    predicted once, and the shift is the one prior matching alone finds."""
    from xlt.protocol import prior_matching, rare_class

    calls = {"guard": 0, "matching": 0}

    def counted(name, real):
        def predict(*args):
            calls[name] += 1
            return real(*args)
        return predict

    for module, name in ((rare_class, "guard"), (prior_matching, "matching")):
        monkeypatch.setattr(module, "predict_texts", counted(name, module.predict_texts))
    both = _levers_run(tiny_model_dir, tiny_data, tmp_path / "a", rare_class_guard=1e-6, prior_matching=1.0)
    assert both[("frozen", "few_shot")]["train_info"]["rare_class_guard"]["refit"] is False
    assert calls == {"guard": 1, "matching": 0}
    alone = _levers_run(tiny_model_dir, tiny_data, tmp_path / "b", prior_matching=1.0)
    assert calls == {"guard": 1, "matching": 1}
    offsets = [r[("frozen", "few_shot")]["train_info"]["prior_matching"]["offsets"] for r in (both, alone)]
    np.testing.assert_allclose(offsets[0], offsets[1], atol=1e-6)


def test_prior_matching_offsets_match_the_shots_class_mix_and_never_raise_a_class_the_shots_lack():
    from xlt.protocol.prior_matching import matching_offsets, shift_probabilities

    probs, _ = _posteriors(np.array([0.6, 0.3, 0.1]), 5000, 2)
    target = np.array([0.2, 0.3, 0.5])
    b = matching_offsets(probs, target)
    np.testing.assert_allclose(shift_probabilities(probs, b).mean(0), target, atol=1e-4)
    assert b[2] > b[1] > b[0]  # the under-predicted class is raised most
    half = shift_probabilities(probs, 0.5 * b).mean(0)  # half the shift lands between before and matched
    assert probs.mean(0)[2] < half[2] < target[2]
    b = matching_offsets(probs, np.array([0.5, 0.5, 0.0]))  # a class the shots lack falls with the lowest
    assert b[2] == min(b[0], b[1], 0.0)
    assert shift_probabilities(probs, b).mean(0)[2] <= probs.mean(0)[2]


@pytest.mark.parametrize("strength", [1.0, 0.5])
def test_prior_matching_shifts_the_few_shot_head_by_its_record_and_touches_no_other_run(
        tiny_model_dir, tiny_data, tmp_path, strength):
    """The offsets are estimated on the target's other texts (labels unread) and land in the head's bias, so
    the stored test probabilities are the unshifted ones moved by the recorded offsets."""
    from xlt.protocol.prior_matching import shift_probabilities

    plain = _levers_run(tiny_model_dir, tiny_data, tmp_path / "a", prior_matching=0.0)
    assert "prior_matching" not in plain[("frozen", "few_shot")]["train_info"]
    runs = _levers_run(tiny_model_dir, tiny_data, tmp_path / "b", prior_matching=strength)
    pm = runs[("frozen", "few_shot")]["train_info"]["prior_matching"]
    assert pm["texts"] == 100 + 30 - 20 and pm["strength"] == strength
    assert sum(pm["shot_shares"].values()) == pytest.approx(1.0)
    assert any(abs(x) > 1e-3 for x in pm["offsets"])
    if strength == 1.0:
        assert pm["mean_probabilities_after"] == pytest.approx(pm["shot_shares"], abs=2e-3)
    before, after = (np.array(_stored_probs(tmp_path / d, r, "few_shot")) for d, r in (("a", plain), ("b", runs)))
    np.testing.assert_allclose(shift_probabilities(before, np.array(pm["offsets"])), after, atol=1e-4)
    assert _stored_probs(tmp_path / "a", plain, "zero_shot") == _stored_probs(tmp_path / "b", runs, "zero_shot")
    assert "prior_matching" not in runs[("frozen", "zero_shot")]["train_info"]
    from xlt.report import build_report

    report = build_report(tmp_path / "b")[0].read_text()
    assert "prior matching" in report.split("Class priors and robustness levers")[1]


def _stored_probs(out, runs: dict, strategy: str) -> list:
    import json
    import sqlite3

    run = runs[("frozen", strategy)]
    db = sqlite3.connect(out / "results.sqlite")
    return [json.loads(p) for (p,) in db.execute("select probs from predictions where run_id=? order by idx",
                                                 (run["run_id"],))]
