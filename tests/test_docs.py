"""The documentation says what the code does: the reference page is the generator's output, and the
docs name no issue numbers, work sessions or seed-document files."""
from __future__ import annotations

import re

from conftest import ROOT


def test_the_reference_page_is_current():
    from xlt.reference import config_reference

    assert (ROOT / "docs" / "reference.md").read_text() == config_reference(), \
        "docs/reference.md is out of date: run `xlt reference > docs/reference.md`"


def test_user_docs_speak_to_users():
    pages = [ROOT / "README.md", ROOT / "BENCHMARKS.md", *sorted((ROOT / "docs").glob("*.md"))]
    banned = re.compile(r"\b(issue|session) \d+|\(issue|seed-00\d|\d{3}_[0-9a-f]{16}\.txt|dev-cpu")
    for page in pages:
        for i, line in enumerate(page.read_text().splitlines(), 1):
            assert not banned.search(line), f"{page.name}:{i}: {line}"
