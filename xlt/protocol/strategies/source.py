"""The source-language reference: the source stage scored on the source's own test split. Planned once
per seed and method whenever a strategy starts from the source stage; reports read the transfer gap
against it."""
from xlt.protocol.strategies import STRATEGIES
from xlt.protocol.strategies.base import SOURCE_VALIDATION, Strategy, Trained


@STRATEGIES.register
class SourceReference(Strategy):
    name = "source"
    title = "Source language (reference)"
    order = 0
    from_source = True
    scores_source = True
    selectable = False

    def rows(self, ctx, key):
        return ctx.source.splits["train"], ctx.source.splits["validation"], SOURCE_VALIDATION

    def run(self, ctx, key) -> Trained:
        method, model, info = ctx.stages.model(key.method, key.seed, ctx.source)
        return Trained(method, model, info, SOURCE_VALIDATION, len(ctx.source.splits["train"]))
