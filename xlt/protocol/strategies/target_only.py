"""Target-only: a fresh model on the target's full training set, the monolingual baseline every transfer
strategy is compared with."""
from xlt.protocol.stages import fit_stage
from xlt.protocol.strategies import STRATEGIES
from xlt.protocol.strategies.base import TARGET_VALIDATION, Strategy, Trained


@STRATEGIES.register
class TargetOnly(Strategy):
    name = "target_only"
    title = "Baseline (target-only)"
    order = 10
    needs_target_train = True
    default = True
    line_style = "-."

    def rows(self, ctx, key):
        target = ctx.data_for(key)
        return target.splits["train"], target.splits["validation"], TARGET_VALIDATION

    def run(self, ctx, key) -> Trained:
        target = ctx.data_for(key)
        method, model = ctx.fresh_model(key.seed, key.method)
        method.use_language(model, target.language, labelled=True)
        rows = target.splits["train"]
        info = fit_stage(ctx, method, model, rows, target.splits["validation"], key.seed, key.label())
        return Trained(method, model, info, TARGET_VALIDATION, info.pop("rows"))
