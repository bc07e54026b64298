"""Few-shot: the source-trained model continued on N target examples. The N-example samples are nested,
stratified and seeded (the 100 are inside the 250), so a learning curve is read off one sample per seed.
With the method's few_shot_choice: cv the run keeps the zero-shot model, the few-shot model or their average,
whichever cross-validation on the N shots prefers (xlt/protocol/choice.py)."""
from xlt.data.splits import k_shot
from xlt.protocol.choice import choose_by_cv
from xlt.protocol.stages import continue_on_target
from xlt.protocol.strategies import STRATEGIES
from xlt.protocol.strategies.base import TARGET_VALIDATION, Strategy, Trained


@STRATEGIES.register
class FewShot(Strategy):
    name = "few_shot"
    title = "Few-shot"
    order = 40
    from_source = True
    uses_shots = True
    needs_target_train = True
    default = True

    def target_rows(self, ctx, key) -> list:
        return k_shot(ctx.data_for(key).splits["train"], key.n, key.seed)

    def rows(self, ctx, key):
        target = ctx.data_for(key)
        return ctx.source.splits["train"] + self.target_rows(ctx, key), target.splits["validation"], TARGET_VALIDATION

    def run(self, ctx, key) -> Trained:
        target = ctx.data_for(key)
        method, model, stage = ctx.stages.model(key.method, key.seed, ctx.source)
        method.use_language(model, target.language)
        shots = self.target_rows(ctx, key)
        cv = method.cfg.few_shot_choice == "cv" and ctx.task.sentence_head
        stage_state = method.trainable_state(model) if cv else None
        info = continue_on_target(ctx, key, method, model, target, shots)
        rows = info.pop("rows")
        if stage_state is not None:  # zero-shot, few-shot or their average, by cross-validation on the shots
            info["few_shot_choice"] = choose_by_cv(ctx, key, method, model, target, shots, stage_state,
                                                   info.get("head_c"))
        return Trained(method, model, {**info, "source_stage": stage}, TARGET_VALIDATION, rows)
