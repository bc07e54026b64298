"""Full fine-tuning (word embeddings frozen by default)."""
from xlt.methods.base import AdaptationMethod, freeze_word_embeddings


class FullFineTuning(AdaptationMethod):
    name = "full"
    default_lr = 5e-5
    default_lr_continue = 3e-5

    def prepare(self, model):
        for p in model.parameters():
            p.requires_grad_(True)
        if self.cfg.freeze_embeddings:
            freeze_word_embeddings(model)
        return model
