"""Translate-train: the source's training data is machine-translated into the target language and a
fresh model is trained on the translations (with translation.with_source, on the originals too);
model selection reads the translated source validation split, so no target label is read (Conneau et
al., 2018; Hu et al., 2020). Token tasks project each word's tag through the translator's word
alignment (the dictionary translator keeps one)."""
from xlt.errors import XltError
from xlt.protocol.stages import fit_stage
from xlt.protocol.strategies import STRATEGIES
from xlt.protocol.strategies.base import Strategy, Trained
from xlt.protocol.strategies.translate_test import check_translation, missing_pair, with_translator

TRANSLATED_VALIDATION = "source-validation (translated)"


@STRATEGIES.register
class TranslateTrain(Strategy):
    name = "translate_train"
    title = "Translate-train"
    order = 24
    identity_roles = ("translation",)
    line_style = (0, (5, 5))  # loosely dashed

    def check(self, ctx) -> None:
        check_translation(self, ctx, [(ctx.source.language, t.language) for t in ctx.targets])
        if ctx.task.data_kind == "tokens" and not ctx.translator.aligns_words:
            raise XltError(f"translate_train for {ctx.exp.task} projects tags through a word alignment, which "
                           f"translator {ctx.translator.name} does not keep; use translator: {{name: dictionary}}")

    def unavailable(self, ctx, target) -> str | None:
        return missing_pair(ctx, ctx.source.language, target.language)

    def _translated(self, ctx, key, split):
        return ctx.translated(ctx.source, split, ctx.data_for(key).language)

    def _train_rows(self, ctx, key, originals: list) -> list:
        """The translated training rows, after the source originals with translation.with_source."""
        translated = self._translated(ctx, key, "train")[0]
        return originals + translated if ctx.exp.translation.with_source else translated

    def rows(self, ctx, key):
        validation = self._translated(ctx, key, "validation")[0]
        return self._train_rows(ctx, key, ctx.source.splits["train"]), validation, TRANSLATED_VALIDATION

    def run(self, ctx, key) -> Trained:
        target = ctx.data_for(key)
        method, model = ctx.fresh_model(key.seed, key.method)
        method.use_language(model, target.language)
        rows = self._train_rows(ctx, key, ctx.source_train(key.seed)[0])  # originals as source stages read them
        validation, selection = self._translated(ctx, key, "validation")[0], TRANSLATED_VALIDATION
        info = fit_stage(ctx, method, model, rows, validation, key.seed, key.label())
        n_rows = info.pop("rows")
        info["translation"] = {**self._translated(ctx, key, "train")[1], **self._translated(ctx, key, "validation")[1]}
        return Trained(method, model, info, selection, n_rows)

    def row_name(self, n, meta=None) -> str:
        return with_translator(self.title + (" + source" if meta and meta.get("translate_with_source") else ""), meta)
