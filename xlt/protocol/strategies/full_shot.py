"""Full-shot: the source-trained model continued on the target's full training set (transfer with all
the target data there is)."""
from xlt.protocol.strategies import STRATEGIES
from xlt.protocol.strategies.few_shot import FewShot


@STRATEGIES.register
class FullShot(FewShot):
    name = "full_shot"
    title = "Full-shot (transfer)"
    order = 60
    uses_shots = False
    line_style = "--"

    def target_rows(self, ctx, key) -> list:
        return ctx.data_for(key).splits["train"]
