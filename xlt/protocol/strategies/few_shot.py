"""Few-shot: the source-trained model continued on N target examples. The N-example samples are nested,
stratified and seeded (the 100 are inside the 250), so a learning curve is read off one sample per seed.
With the method's few_shot_choice: cv the run keeps the zero-shot model, the few-shot model or their average,
whichever cross-validation on the N shots prefers (xlt/protocol/choice.py). With protocol.rare_class_guard set,
text classification refits with class weights where the fitted model leaves a class of the shots nearly
unpredicted on the target's other texts (xlt/protocol/rare_class.py). With protocol.prior_matching set, text
classification shifts the kept model's class biases towards the shots' class mix on those texts
(xlt/protocol/prior_matching.py)."""
from xlt.data.splits import k_shot
from xlt.protocol.choice import choose_by_cv
from xlt.protocol.prior_matching import check_head, match_priors
from xlt.protocol.rare_class import check_rare_classes
from xlt.protocol.stages import continue_on_target
from xlt.protocol.strategies import STRATEGIES
from xlt.protocol.strategies.base import TARGET_VALIDATION, Strategy, Trained


@STRATEGIES.register
class FewShot(Strategy):
    name = "few_shot"
    identity_roles = ("few_shot",)  # protocol.rare_class_guard and prior_matching identify these runs alone
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
        method.use_language(model, target.language, labelled=True)
        shots = self.target_rows(ctx, key)
        cv = method.cfg.few_shot_choice == "cv" and ctx.task.sentence_head
        guard = ctx.exp.protocol.rare_class_guard if ctx.task.sentence_head else 0
        matching = ctx.exp.protocol.prior_matching if ctx.task.sentence_head else 0
        if matching:
            check_head(model, len(ctx.labels), key.method)
        stage_state = method.trainable_state(model) if cv or guard else None
        info = continue_on_target(ctx, key, method, model, target, shots)
        weighted = False
        probs = None  # the kept model's probabilities on the target's unlabelled texts, once predicted
        if guard:
            seen, probs = check_rare_classes(ctx, method, model, target, shots, guard)
            if seen["starved"] and ctx.exp.training.class_weighted_loss:
                seen["note"] = "training.class_weighted_loss already weighed the classes: no refit"
            elif seen["starved"]:  # refit from the source stage with class weights
                method.load_trainable_state(model, stage_state)
                info = continue_on_target(ctx, key, method, model, target, shots, class_weighted=True)
                weighted = seen["refit"] = True
                probs = None
            info["rare_class_guard"] = seen
        rows = info.pop("rows")
        if cv:  # zero-shot, few-shot or their average, by cross-validation on the shots
            info["few_shot_choice"] = choose_by_cv(ctx, key, method, model, target, shots, stage_state,
                                                   info.get("head_c"), class_weighted=weighted)
            if info["few_shot_choice"]["chosen"] != "few_shot":
                probs = None
        if matching:  # on the model kept, whichever it is
            info["prior_matching"] = match_priors(ctx, method, model, target, shots, matching, probs)
        return Trained(method, model, {**info, "source_stage": stage}, TARGET_VALIDATION, rows)
