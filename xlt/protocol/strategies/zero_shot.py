"""Zero-shot: the source-trained model applied to the target as it is. Its model selection reads the
source's validation split; reading the target's must be asked for (protocol.zero_shot_selection: target)
and is labelled in every table."""
from xlt.protocol.strategies import STRATEGIES
from xlt.protocol.strategies.base import (EXPLICIT_TARGET_VALIDATION, SOURCE_VALIDATION, Strategy, Trained)


@STRATEGIES.register
class ZeroShot(Strategy):
    name = "zero_shot"
    title = "Zero-shot"
    order = 20
    from_source = True
    default = True
    line_style = ":"

    def _select_on(self, ctx, key):
        target = ctx.data_for(key)
        explicit = ctx.exp.protocol.zero_shot_selection == "target"
        return (target, EXPLICIT_TARGET_VALIDATION) if explicit else (ctx.source, SOURCE_VALIDATION)

    def stage_data(self, ctx, key):
        return self._select_on(ctx, key)[0]

    def rows(self, ctx, key):
        select_on, selection = self._select_on(ctx, key)
        return ctx.source.splits["train"], select_on.splits["validation"], selection

    def run(self, ctx, key) -> Trained:
        select_on, selection = self._select_on(ctx, key)
        method, model, info = ctx.stages.model(key.method, key.seed, select_on)
        method.use_language(model, ctx.data_for(key).language)
        return Trained(method, model, info, selection, len(ctx.source.splits["train"]))
