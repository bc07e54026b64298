"""Frozen encoder + linear head: the encoder never changes, so pooled features are computed once,
cached, and only the head trains (seconds instead of minutes)."""
from xlt.methods.base import AdaptationMethod, head_parameters


class FrozenEncoder(AdaptationMethod):
    name = "frozen"
    default_lr = 1e-2
    default_lr_continue = 5e-3
    frozen_features = True

    def __init__(self, cfg, task: str = "classification"):
        super().__init__(cfg, task)
        # per-token features are not cached: token tasks run the frozen encoder in every step
        self.frozen_features = task == "classification"

    def prepare(self, model):
        heads = set(head_parameters(model))
        for k, p in model.named_parameters():
            p.requires_grad_(k in heads)
        return model
