"""The translators: one module each, registered in `xlt.translate.TRANSLATORS` (see base.py)."""
