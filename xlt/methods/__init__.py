"""Adaptation methods, found by name (the config's `method: {name: ...}`): full fine-tuning, LoRA,
a frozen encoder with a trained head, MAD-X adapters. Adding one: one module here (see base.py)."""
from xlt.registry import Registry

METHODS: Registry = Registry("method", "xlt.methods")


def get_method(cfg, task):
    """An instance of the method `cfg.name` for `task` (an xlt.tasks Task)."""
    return METHODS.get(cfg.name)(cfg, task)


def method_configs() -> list[type]:
    """Every method's config class (the config's discriminated union on `name`)."""
    return [m.config for m in METHODS]


__all__ = ["METHODS", "get_method", "make_method", "method_configs"]


def make_method(name: str, task: str | None = None, **settings):
    """A method from its name and settings, as `method: {name: ..., ...}` in a config gives it (for scripts
    and tests that train outside an experiment). `task` defaults to xlt's default task."""
    from xlt.tasks import DEFAULT_TASK, get_task

    return get_method(METHODS.get(name).config(**settings), get_task(task or DEFAULT_TASK))
