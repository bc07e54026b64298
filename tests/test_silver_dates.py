"""Silver DATE tags on English NER data (augment.silver_tags): the rules on hand-made sentences,
entities never overwritten, the config checks, old hashes kept, and the real CoNLL-2003 source."""
from __future__ import annotations

import pytest

from xlt.data.examples import LanguageData, TokenExample
from xlt.data.silver_dates import add_date_tags, add_silver_dates, date_spans
from xlt.errors import XltError

from conftest import SHARED_DATA, needs_shared_data


def spans(text: str) -> list[str]:
    words = text.split()
    return [" ".join(words[a:b]) for a, b in date_spans(words)]


def test_rules_find_absolute_relative_and_period_dates():
    assert spans("Talks resume on Monday , August 22 , 1996 in Geneva .") == ["Monday , August 22 , 1996"]
    assert spans("The 22nd August 1996 deal") == ["22nd August 1996"]
    assert spans("He died three years ago aged 49") == ["three years ago"]
    assert spans("shares rose last week and fell yesterday morning") == ["last week", "yesterday morning"]
    assert spans("the 1996/97 season and the 1990s") == ["1996/97", "1990s"]
    assert spans("a 49-year-old man") == ["49-year-old"]
    assert spans("TUESDAY , AUGUST 27TH") == ["TUESDAY , AUGUST 27TH"]


def test_ambiguous_months_and_plain_numbers_are_not_dates():
    assert spans("You may go but March on") == []  # modal / verb, no number beside them
    assert spans("May 5 and 12 March") == ["May 5", "12 March"]
    assert spans("He scored 42 points in 3 games") == []
    assert spans("a profit of 150 million") == []


def test_words_inside_entities_keep_their_tags():
    words = ("Jan", "Smith", "arrived", "on", "Friday")
    tags, added = add_date_tags(words, ("B-PER", "I-PER", "O", "O", "O"))
    assert tags == ("B-PER", "I-PER", "O", "O", "B-DATE") and added == 1
    words = ("The", "Sunday", "Times", "said", "today")
    tags, added = add_date_tags(words, ("O", "B-ORG", "I-ORG", "O", "O"))
    assert tags == ("O", "B-ORG", "I-ORG", "O", "B-DATE") and added == 1


def test_source_checks_language_and_existing_dates():
    row = TokenExample(("on", "Friday"), ("O", "O"))
    other = LanguageData("toy", "swa", {"train": [row], "validation": [], "test": [row]})
    with pytest.raises(XltError, match="written for English"):
        add_silver_dates(other)
    dated = LanguageData("toy", "eng", {"train": [TokenExample(("on", "Friday"), ("O", "B-DATE"))],
                                        "validation": [], "test": [row]})
    with pytest.raises(XltError, match="already tags DATE"):
        add_silver_dates(dated)
    eng = LanguageData("toy", "eng", {"train": [row, row], "validation": [], "test": [row]})
    lines = add_silver_dates(eng)
    assert eng.splits["train"][0].tags == ("O", "B-DATE") and "train: 2 DATE spans added in 2 of 2" in lines[1]


def test_config_rejects_silver_tags_off_ner_and_silver_tags_identify_the_source_stage():
    from xlt.config import parse_config
    from xlt.identity import run_hash

    ner = {"name": "h", "model": "embedded:multilingual-e5-small", "task": "ner", "method": {"name": "full"},
           "baselines": [], "source": {"dataset": "conll2003", "language": "eng"},
           "targets": [{"dataset": "masakhaner2", "language": "hau"}],
           "protocol": {"strategies": ["zero_shot", "few_shot"], "shots": [100], "seeds": [0]},
           "training": {"fast_dropout": "off", "micro_batching": "off"}}
    plain, dated = parse_config(ner), parse_config({**ner, "augment": {"silver_tags": ["DATE"]}})
    assert run_hash(plain, "full", None, ["O"]) != run_hash(dated, "full", None, ["O"])
    with pytest.raises(XltError, match="silver_tags"):
        parse_config({**ner, "task": "pos", "augment": {"silver_tags": ["DATE"]}})
    with pytest.raises(XltError):
        parse_config({**ner, "augment": {"silver_tags": ["TIME"]}})  # only DATE has rules


@needs_shared_data()
def test_conll2003_source_gets_dates_in_every_split(tmp_path):
    from xlt.config import parse_config
    from xlt.protocol.plan import load_data
    from xlt.tasks import get_task

    exp = parse_config({"name": "s", "task": "ner", "method": {"name": "full"}, "baselines": [],
                        "source": {"dataset": "conll2003", "language": "eng", "label_map": {"MISC": None}},
                        "targets": [{"dataset": "masakhaner2", "language": "hau"}],
                        "augment": {"silver_tags": ["DATE"]}})
    source, _, lines = load_data(exp, str(SHARED_DATA), get_task("ner"))
    assert {"B-DATE", "I-DATE"} <= set(source.labels)
    report = "\n".join(lines)
    assert "silver DATE tags" in report and "test:" in report
    train_dates = sum(t == "B-DATE" for r in source.splits["train"] for t in r.tags)
    assert 2000 < train_dates < 6000  # weekdays, months, years, "last week": about one sentence in four
    plain, _, _ = load_data(exp.model_copy(update={"augment": type(exp.augment)()}), str(SHARED_DATA), get_task("ner"))
    changed = [(a, b) for r, p in zip(source.splits["train"], plain.splits["train"]) for a, b in zip(r.tags, p.tags)
               if a != b]
    assert changed and all(b == "O" and a.endswith("-DATE") for a, b in changed)  # only O words became DATE
