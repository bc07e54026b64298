"""Zero-shot after language-adaptive pretraining: the encoder is first trained by masked-LM on the target's unlabelled
text (protocol.lapt; xlt/protocol/lapt.py), the task's source stage is trained from that encoder, and the result is
applied to the target. One adapted encoder and one source stage per target language and seed, both saved; with
protocol.lapt.scope: targets, one of each for all the targets, adapted on their texts pooled."""
from xlt.protocol.strategies import STRATEGIES
from xlt.protocol.strategies.base import SOURCE_VALIDATION, Strategy, Trained


@STRATEGIES.register
class ZeroShotLapt(Strategy):
    name = "zero_shot_lapt"
    title = "Zero-shot (LAPT)"
    order = 21
    reads_unlabelled = True
    baselines = False  # the baselines read no unlabelled text: their zero-shot row is zero_shot's
    line_style = "-."
    identity_roles = ("lapt",)  # protocol.lapt identifies these runs and no others

    def supports(self, method) -> bool:
        return not method.frozen_features and method.name != "madx"

    def check(self, ctx) -> None:
        from xlt.errors import XltError

        refused = [m.name for m in ctx.methods.values() if not self.supports(m)]
        if refused:
            raise XltError(f"strategy zero_shot_lapt adapts the encoder that the source stage then trains, and method "
                           f"{refused[0]} keeps it fixed (frozen) or adapts languages with its own adapters (madx); "
                           "use it with full, lora or prompt")

    def rows(self, ctx, key):
        return ctx.source.splits["train"], ctx.source.splits["validation"], SOURCE_VALIDATION

    def stage_data(self, ctx, key):
        return None  # its source stage belongs to one target language: trained by the run itself

    def run(self, ctx, key) -> Trained:
        from xlt.protocol.lapt import adapted_encoder

        target = ctx.data_for(key)
        encoder, lapt, lapt_key = adapted_encoder(ctx, target, key.seed)
        method, model, stage = ctx.stages.model(key.method, key.seed, ctx.source,
                                                encoder=(f"lapt-{lapt_key}", encoder))
        method.use_language(model, target.language)
        return Trained(method, model, {**stage, "lapt": lapt}, SOURCE_VALIDATION, len(ctx.source.splits["train"]))
