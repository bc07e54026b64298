"""Few-shot + self-training: few-shot with the rest of the target's text unlabelled.

The few-shot model (the source stage continued on the N shots) labels the target's other texts; each
round goes back to the source stage and learns the source rows plus the confident pseudo-labels, then
the N labelled shots as a few-shot run does (a frozen method refits its head once on source +
pseudo-labelled + shots, the shots weighing as much as the rest). The shots' own texts are never
pseudo-labelled. On MasakhaNER 2.0 (N = 100, one round) it added 2.7 entity F1 over plain few-shot
(BENCHMARKS.md).
"""
from __future__ import annotations

from xlt.protocol.stages import continue_on_target
from xlt.protocol.strategies import STRATEGIES
from xlt.protocol.strategies.base import TARGET_VALIDATION, Strategy, Trained
from xlt.protocol.strategies.few_shot import FewShot
from xlt.protocol.strategies.self_training import Unlabelled, retrain_on_pseudo_labels


@STRATEGIES.register
class FewShotSelfTraining(Strategy):
    name = "few_shot_self_training"
    identity_roles = ("self_training",)  # protocol.self_training.quota identifies these runs alone
    title = "Few-shot + self-training (unlabelled target text)"
    order = 50
    from_source = True
    uses_shots = True
    reads_unlabelled = True
    needs_target_train = True
    baselines = False  # the simple baselines stay simple: their few-shot rows are the comparison
    curve_marker = "s"
    curve_line = "--"

    def run(self, ctx, key) -> Trained:
        target = ctx.data_for(key)
        method, model, stage_info = ctx.stages.model(key.method, key.seed, ctx.source)
        method.use_language(model, target.language, labelled=True)
        shots = FewShot().target_rows(ctx, key)
        unlabelled = Unlabelled(ctx, key, target, {r.text for r in shots})
        stage = method.trainable_state(model)
        first = continue_on_target(ctx, key, method, model, target, shots)
        rounds = [{"round": 0, "few_shot": {k: first[k] for k in ("best_val_f1", "steps", "rows")}}]
        res = first
        for r in range(1, ctx.exp.protocol.self_training.rounds + 1):
            pseudo, record = unlabelled.label(ctx, model, method)
            if method.frozen_features:
                method.load_trainable_state(model, stage)
                res = continue_on_target(ctx, key, method, model, target, shots,
                                         ctx.source_train(key.seed)[0] + pseudo)
                retrain = {}
            else:
                st = retrain_on_pseudo_labels(ctx, key, method, model, stage, pseudo, f"{key.label()} round {r}")
                retrain = {"val_score_source": st["best_val_f1"], "steps_source": st["steps"], "lr_source": st["lr"]}
                res = continue_on_target(ctx, key, method, model, target, shots)
            rounds.append({"round": r, "unlabelled": len(unlabelled.texts), **record, **retrain,
                           "val_score": res["best_val_f1"], "steps": res["steps"], "rows": res["rows"],
                           "seconds": round(res["seconds"], 1)})
        info = {**res, "self_training": rounds, "source_stage": stage_info}
        return Trained(method, model, info, TARGET_VALIDATION, info.pop("rows"))
