"""Joint: a fresh model on the source and target training data together (multilingual training)."""
from xlt.protocol.stages import fit_stage
from xlt.protocol.strategies import STRATEGIES
from xlt.protocol.strategies.base import TARGET_VALIDATION, Strategy, Trained


@STRATEGIES.register
class Joint(Strategy):
    name = "joint"
    title = "Joint (source + target)"
    order = 70
    needs_target_train = True

    def rows(self, ctx, key):
        target = ctx.data_for(key)
        return ctx.source.splits["train"] + target.splits["train"], target.splits["validation"], TARGET_VALIDATION

    def run(self, ctx, key) -> Trained:
        target = ctx.data_for(key)
        method, model = ctx.fresh_model(key.seed, key.method)
        method.use_language(model, target.language, labelled=True)
        source = ctx.source_train(key.seed)[0]
        rows = target.splits["train"] + source
        info = fit_stage(ctx, method, model, rows, target.splits["validation"], key.seed, key.label(),
                         languages=[target.language] * len(target.splits["train"]) + [ctx.source.language] * len(source))
        return Trained(method, model, info, TARGET_VALIDATION, info.pop("rows"))
