"""Full fine-tuning (word embeddings frozen by default)."""
from typing import Literal

from xlt.methods import METHODS
from xlt.methods.base import AdaptationMethod, MethodConfig, freeze_word_embeddings


class FullConfig(MethodConfig):
    name: Literal["full"] = "full"
    freeze_embeddings: bool = True
    """The word embeddings: little to learn from small data, much to forget."""


@METHODS.register
class FullFineTuning(AdaptationMethod):
    name = "full"
    config = FullConfig
    default_lr = 5e-5
    default_lr_continue = 3e-5

    def prepare(self, model):
        for p in model.parameters():
            p.requires_grad_(True)
        if self.cfg.freeze_embeddings:
            freeze_word_embeddings(model)
        return model
