"""Translate-test: the target's test texts are machine-translated into the source language and the
source-trained model reads the translations (Conneau et al., 2018; Hu et al., 2020). No target label
is read; the translator is an extra resource and every table names it. Text classification only: a
token task's tags would have to be projected back onto the original words."""
from xlt.errors import XltError
from xlt.protocol.strategies import STRATEGIES
from xlt.protocol.strategies.base import SOURCE_VALIDATION, Strategy, Trained


def check_translation(strategy: Strategy, ctx, pairs) -> None:
    """The config names a translator, and it has at least one pair the runs translate (targets it cannot
    serve are left out of the plan with a note)."""
    if ctx.exp.translation is None:
        raise XltError(f"{strategy.name} translates, so the config needs a translator: translation: "
                       "{translator: {name: apertium}} (or dictionary, parallel, hf; see docs/translation.md)")
    have = ctx.translator.pairs()
    if not any(p in have for p in pairs):
        ctx.translator.check_pair(*pairs[0])  # the error that lists the pairs it has


def missing_pair(ctx, src: str, tgt: str) -> str | None:
    if (src, tgt) in ctx.translator.pairs():
        return None
    return f"translator {ctx.translator.label()} has no {src}->{tgt}"


def with_translator(title: str, meta: dict | None) -> str:
    return f"{title} ({meta['translator']})" if meta and meta.get("translator") else title


@STRATEGIES.register
class TranslateTest(Strategy):
    name = "translate_test"
    title = "Translate-test"
    order = 22
    from_source = True
    identity_roles = ("translation",)
    line_style = (0, (3, 1, 1, 1, 1, 1))  # dash-dot-dot
    data_kinds = ("text",)

    def check(self, ctx) -> None:
        if ctx.task.data_kind not in self.data_kinds:
            raise XltError(f"translate_test scores translated texts, and a {ctx.exp.task} task's tags would have "
                           "to be projected back onto the original words; use translate_train for token tasks")
        check_translation(self, ctx, [(t.language, ctx.source.language) for t in ctx.targets])

    def unavailable(self, ctx, target) -> str | None:
        return missing_pair(ctx, target.language, ctx.source.language)

    def rows(self, ctx, key):
        return ctx.source.splits["train"], ctx.source.splits["validation"], SOURCE_VALIDATION

    def test_rows(self, ctx, key) -> list:
        return ctx.translated(ctx.data_for(key), "test", ctx.source.language)[0]

    def run(self, ctx, key) -> Trained:
        method, model, info = ctx.stages.model(key.method, key.seed, ctx.source)
        method.use_language(model, ctx.source.language)  # the texts it reads are in the source language
        info = {**info, "translation": ctx.translated(ctx.data_for(key), "test", ctx.source.language)[1]}
        return Trained(method, model, info, SOURCE_VALIDATION, len(ctx.source.splits["train"]))

    def row_name(self, n, meta=None) -> str:
        return with_translator(self.title, meta)
