"""Few-shot with X-MAML: the source-trained model is first meta-trained over auxiliary languages' small tasks
(protocol.meta; xlt/protocol/meta.py), then continued on the target's N shots like few_shot. The auxiliary
languages are the config's, less the target's own language; with protocol.meta.top_k, the k of them the zero-data
source ranker scores highest for the target."""
from xlt.errors import XltError
from xlt.protocol.stages import continue_on_target
from xlt.protocol.strategies import STRATEGIES
from xlt.protocol.strategies.base import TARGET_VALIDATION, Trained
from xlt.protocol.strategies.few_shot import FewShot


@STRATEGIES.register
class FewShotMeta(FewShot):
    """few_shot's shots and rows; meta-training before them."""

    name = "few_shot_meta"
    title = "Few-shot (X-MAML)"
    order = 45
    default = False
    baselines = False  # the baselines read no auxiliary language: their few-shot row is few_shot's
    curve_marker = "D"
    identity_roles = ("meta",)  # protocol.meta identifies these runs and no others

    def check(self, ctx) -> None:
        from xlt.protocol.meta import load_auxiliary

        if ctx.exp.protocol.meta is None:
            raise XltError("strategy few_shot_meta meta-trains on auxiliary languages, and none are given: add "
                           "protocol: {meta: {languages: [{dataset: nusax-senti, language: ind}]}} (labelled "
                           "languages other than the targets'), or drop few_shot_meta")
        if not all(self.supports(m) for m in ctx.methods.values()):
            raise XltError("strategy few_shot_meta trains by gradient steps, and method frozen fits a convex head "
                           "(nothing to meta-learn); use it with full, lora or prompt")
        ctx.auxiliary = load_auxiliary(ctx)

    def supports(self, method) -> bool:
        return not method.frozen_features

    def unavailable(self, ctx, target) -> str | None:
        if ctx.exp.protocol.meta is not None and not self._languages(ctx, target):
            return "its only auxiliary language is the target's own"
        return None

    def _languages(self, ctx, target) -> dict:
        return {lang: d for lang, d in (ctx.auxiliary or {}).items() if lang != target.language}

    def run(self, ctx, key) -> Trained:
        from xlt.protocol.meta import meta_stage, ranked_auxiliary

        target = ctx.data_for(key)
        languages, ranking = self._languages(ctx, target), None
        if ctx.exp.protocol.meta.top_k is not None:
            languages, ranking = ranked_auxiliary(ctx, target, languages, ctx.exp.protocol.meta.top_k)
        method, model, stage = ctx.stages.model(key.method, key.seed, ctx.source)
        meta = meta_stage(ctx, method, model, key.method, languages, key.seed)
        if ranking is not None:
            meta["meta"]["ranking"] = ranking
        method.use_language(model, target.language, labelled=True)
        info = continue_on_target(ctx, key, method, model, target, self.target_rows(ctx, key))
        rows = info.pop("rows")
        return Trained(method, model, {**info, **meta, "source_stage": stage}, TARGET_VALIDATION, rows)
