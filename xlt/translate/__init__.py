"""Translators: machine translation inside the transfer loop (translate-test, translate-train, `xlt translate`,
`xlt mt-eval`), found by name (the config's `translation: {translator: {name: ...}}`).

Each module of `translators/` is one translator: a `Translator` subclass (translators/base.py) with its own
config class that declares its language pairs, its version and whether it works offline. Adding one is one
module there.
Every translation goes through the cache (cache.py), so a text is translated once per translator,
version and direction.
"""
from xlt.registry import Registry

TRANSLATORS: Registry = Registry("translator", "xlt.translate.translators")


def translator_configs() -> list[type]:
    """Every translator's config class (the config's discriminated union on `name`)."""
    return [t.config for t in TRANSLATORS]


def get_translator(cfg, data_dir: str | None = None):
    """An instance of the translator `cfg.name` with its settings."""
    return TRANSLATORS.get(cfg.name)(cfg, data_dir)


def make_translator(name: str, data_dir: str | None = None, **settings):
    """A translator from its name and settings, as `translator: {name: ..., ...}` gives it."""
    return get_translator(TRANSLATORS.get(name).config(name=name, **settings), data_dir)


__all__ = ["TRANSLATORS", "get_translator", "make_translator", "translator_configs"]
