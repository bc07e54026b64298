"""Target-only on the N shots: a fresh model trained on the few-shot sample alone, no source stage.

Read beside few-shot at the same N, it says what the source language is worth: few-shot minus this row is
the transfer's gain at equal target data (the no-transfer point of a few-shot learning curve)."""
from xlt.data.splits import k_shot
from xlt.protocol.stages import fit_stage
from xlt.protocol.strategies import STRATEGIES
from xlt.protocol.strategies.base import TARGET_VALIDATION, Strategy, Trained


@STRATEGIES.register
class TargetOnlyShots(Strategy):
    name = "target_only_shots"
    title = "Target-only (shots)"
    order = 15
    uses_shots = True
    needs_target_train = True
    curve_marker = "^"
    curve_line = ":"

    def rows(self, ctx, key):
        target = ctx.data_for(key)
        return k_shot(target.splits["train"], key.n, key.seed), target.splits["validation"], TARGET_VALIDATION

    def run(self, ctx, key) -> Trained:
        target = ctx.data_for(key)
        method, model = ctx.fresh_model(key.seed, key.method)
        method.use_language(model, target.language, labelled=True)
        rows, validation, selection = self.rows(ctx, key)
        info = fit_stage(ctx, method, model, rows, validation, key.seed, key.label())
        return Trained(method, model, info, selection, info.pop("rows"))
