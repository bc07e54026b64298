"""Adaptation methods, found by name. Adding one: write its class, add one line here."""
from xlt.errors import XltError
from xlt.methods.base import AdaptationMethod
from xlt.methods.frozen import FrozenEncoder
from xlt.methods.full import FullFineTuning
from xlt.methods.lora import Lora
from xlt.methods.madx import MadX

METHODS: dict[str, type[AdaptationMethod]] = {m.name: m for m in (FullFineTuning, Lora, FrozenEncoder, MadX)}


def get_method(cfg, task: str = "classification") -> AdaptationMethod:
    if cfg.name not in METHODS:
        raise XltError(f"unknown method {cfg.name!r}; available: {', '.join(METHODS)}")
    return METHODS[cfg.name](cfg, task)


__all__ = ["METHODS", "AdaptationMethod", "get_method"]
