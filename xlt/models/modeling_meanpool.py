"""Pooled sequence classifiers for the common encoder families: a linear head over the mean of the token
states (multilingual-e5 and most sentence encoders were trained that way, so their first token is a poor
sentence summary) or over the first token (`cls`), as `config.xlt_pooling` says.

One class per family (BERT, RoBERTa, XLM-R, DeBERTa-v2/v3, DistilBERT), built from the family's own
backbone, so checkpoints of the plain encoder load into it by the family's usual weight names. The head is
a plain `Linear`, so the frozen method can copy a logistic-regression fit into it.

This file imports only torch and transformers: xlt copies it next to saved models and names it in
config.json's `auto_map`, so `AutoModelForSequenceClassification.from_pretrained(path,
trust_remote_code=True)` loads a saved xlt classifier without xlt installed.
"""
from __future__ import annotations

import inspect

import torch
from torch import nn
from transformers import (BertModel, BertPreTrainedModel, DebertaV2Model, DebertaV2PreTrainedModel,
                          DistilBertModel, DistilBertPreTrainedModel, RobertaModel, RobertaPreTrainedModel,
                          XLMRobertaModel, XLMRobertaPreTrainedModel)
from transformers.modeling_outputs import SequenceClassifierOutput


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean over non-padding tokens, special tokens included (e5's recipe)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """The sentence vector: `mean` over non-padding tokens, or the first token's state (`cls`)."""
    return hidden[:, 0] if pooling == "cls" else mean_pool(hidden, attention_mask)


def _dropout(config) -> float:
    for name in ("classifier_dropout", "seq_classif_dropout", "hidden_dropout_prob", "dropout"):
        value = getattr(config, name, None)
        if value is not None:
            return value
    return 0.1


def _pooled_class(name: str, pretrained: type, backbone: type) -> type:
    """A pooled classifier on `backbone`, stored under the family's base-model prefix (bert, roberta, ...)."""
    prefix = pretrained.base_model_prefix
    own_pooler = "add_pooling_layer" in inspect.signature(backbone.__init__).parameters
    takes_types = "token_type_ids" in inspect.signature(backbone.forward).parameters

    def __init__(self, config):
        pretrained.__init__(self, config)
        self.num_labels = config.num_labels
        setattr(self, prefix, backbone(config, add_pooling_layer=False) if own_pooler else backbone(config))
        self.dropout = nn.Dropout(_dropout(config))
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, inputs_embeds=None,
                **kwargs):
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        extra = {"token_type_ids": token_type_ids} if takes_types and token_type_ids is not None else {}
        out = getattr(self, prefix)(input_ids=input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds,
                                    **extra)
        sentence = pool(out.last_hidden_state, attention_mask, getattr(self.config, "xlt_pooling", "mean"))
        logits = self.classifier(self.dropout(sentence))
        loss = nn.functional.cross_entropy(logits.float(), labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)

    return type(name, (pretrained,), {"__init__": __init__, "forward": forward, "__module__": __name__,
                                      "config_class": pretrained.config_class})


# The BERT class keeps its first name: models saved by earlier versions name it in their auto_map.
BertMeanPoolForSequenceClassification = _pooled_class("BertMeanPoolForSequenceClassification",
                                                      BertPreTrainedModel, BertModel)
RobertaPooledForSequenceClassification = _pooled_class("RobertaPooledForSequenceClassification",
                                                       RobertaPreTrainedModel, RobertaModel)
XLMRobertaPooledForSequenceClassification = _pooled_class("XLMRobertaPooledForSequenceClassification",
                                                          XLMRobertaPreTrainedModel, XLMRobertaModel)
DebertaV2PooledForSequenceClassification = _pooled_class("DebertaV2PooledForSequenceClassification",
                                                         DebertaV2PreTrainedModel, DebertaV2Model)
DistilBertPooledForSequenceClassification = _pooled_class("DistilBertPooledForSequenceClassification",
                                                          DistilBertPreTrainedModel, DistilBertModel)

# config.model_type -> the pooled classifier of that family
POOLED_CLASSIFIERS = {
    "bert": BertMeanPoolForSequenceClassification,
    "roberta": RobertaPooledForSequenceClassification,
    "xlm-roberta": XLMRobertaPooledForSequenceClassification,
    "deberta-v2": DebertaV2PooledForSequenceClassification,
    "distilbert": DistilBertPooledForSequenceClassification,
}
