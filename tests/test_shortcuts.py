"""Each shortcut statistic on small hand-made data whose answers are known."""
from __future__ import annotations

import pytest

from xlt.data.examples import Example
from xlt.evaluate.shortcuts import (keyword_rule_f1, keyword_share, length_only_f1, shortcut_report,
                                    top_predictive_tokens, verdict)

E = Example


def test_top_predictive_tokens_precision_and_coverage():
    rows = [E("i feel sad today", "dep")] * 4 + [E("sad movie", "ctl")] + [E("nice day today", "ctl")] * 5
    top = top_predictive_tokens(rows, k=3, min_count=2)
    feel = next(s for s in top["dep"] if s.token == "feel")
    assert (feel.precision, feel.coverage, feel.count) == (1.0, 1.0, 4)
    sad = next(s for s in top["dep"] if s.token == "sad")
    assert sad.precision == pytest.approx(4 / 5) and sad.coverage == 1.0
    assert top["ctl"][0].token in ("nice", "day") and top["ctl"][0].precision == 1.0
    # "today" is in 5 of the 9 texts holding it for ctl: third, after the two tokens only ctl texts hold
    assert [s.token for s in top["ctl"]][2] == "today" and len(top["ctl"]) == 3
    assert top["ctl"][2].precision == pytest.approx(5 / 9) and top["ctl"][2].coverage == pytest.approx(5 / 6)


def test_keyword_share_counts_substrings_for_clitics():
    rows = [E("أعاني من الاكتئاب", "1"), E("بالاكتئاب كل يوم", "1"), E("يوم جميل", "1"), E("اكتئاب؟", "0"),
            E("مباراة رائعة", "0"), E("طقس جميل", "0"), E("قهوة", "0")]
    assert keyword_share(rows, "اكتئاب") == {"0": 0.25, "1": pytest.approx(2 / 3)}


def test_keyword_rule_and_length_only_scores():
    train = [E("depression is heavy", "dep")] * 5 + [E("football tonight", "ctl")] * 5
    test = [E("my depression again", "dep"), E("so tired", "dep"), E("match today", "ctl"), E("depression talk show", "ctl")]
    # rule predicts dep, ctl, ctl, dep: each class 1 of 2 right -> P = R = 0.5 -> macro-F1 0.5
    assert keyword_rule_f1(train, test, "depression", "dep") == pytest.approx(0.5)
    long_short_train = [E("a b c d e f g h i j k l", "dep")] * 5 + [E("a b", "ctl")] * 5
    long_short_test = [E("w " * 15, "dep"), E("x y", "ctl")]
    assert length_only_f1(long_short_train, long_short_test) == 1.0


def test_report_duplicates_and_verdict():
    train = [E("i am depressed", "dep")] * 6 + [E("nice weather", "ctl")] * 6
    test = [E("i am depressed", "dep"), E("depressed again", "dep"), E("weather is nice", "ctl"), E("hello", "ctl")]
    rep = shortcut_report("eng", {"train": train, "validation": [], "test": test}, keyword="depressed").to_dict()
    assert rep["duplicates_train_test"] == 1
    assert rep["keyword_share"] == {"ctl": 0.0, "dep": 1.0}
    assert rep["keyword_rule_f1"] == 1.0
    assert rep["median_words"] == {"ctl": 2.0, "dep": 2.5}
    lines = verdict(rep, model_f1=0.95, bow_f1=0.5)
    assert any("single keyword rule ('depressed') reaches 1.00 macro-F1, 105% of the model's 0.95" in x for x in lines)
    assert any("1 test texts also appear in train" in x for x in lines)
    assert not any("bag-of-words" in x for x in lines)
    assert verdict(rep | {"keyword_rule_f1": 0.5, "length_only_f1": 0.5, "duplicates_train_test": 0}, 0.95, 0.5) == []


def test_tfidf_uses_characters_for_scripts_without_spaces():
    from sklearn.linear_model import LogisticRegression

    from xlt.baselines import tfidf_vectorizer

    ja_train = ["今日はとても悲しい気分です", "毎日つらくて悲しい", "今日は楽しい一日でした", "友達と楽しい時間"]
    labels = ["dep", "dep", "ctl", "ctl"]
    assert tfidf_vectorizer(ja_train).analyzer == "char_wb"
    assert tfidf_vectorizer(["i feel sad today", "great match"]).analyzer == "word"
    vec = tfidf_vectorizer(ja_train)
    clf = LogisticRegression(C=10).fit(vec.fit_transform(ja_train), labels)
    # unseen sentences: no whitespace word is shared with train, characters are
    assert list(clf.predict(vec.transform(["彼は悲しいと言った", "楽しい週末だった"]))) == ["dep", "ctl"]


def test_top_tokens_use_character_ngrams_where_words_have_no_spaces():
    from xlt.evaluate.shortcuts import words

    assert words("今日はうつ病") == {"今日", "日は", "はう", "うつ", "つ病", "今日は", "日はう", "はうつ", "うつ病"}
    assert words("Feeling low, 2 days") == {"feeling", "low", "2", "days"}
    dep = ["朝からうつで何もできない", "うつがひどくて眠れない", "またうつの波が来た", "うつっぽい一日", "今日もうつ"]
    ctl = ["ラーメンおいしかった", "映画を見に行った", "天気がいい日曜日", "新しい本を買った", "友達とカフェ"]
    rows = [E(t, "dep") for t in dep] + [E(t, "ctl") for t in ctl]
    top = top_predictive_tokens(rows, k=3, min_count=5)
    assert top["dep"][0].token == "うつ" and top["dep"][0].precision == 1.0 and top["dep"][0].coverage == 1.0
    rep = shortcut_report("jpn", {"train": rows, "test": rows})
    assert rep.keyword == "うつ" and rep.keyword_share == {"ctl": 0.0, "dep": 1.0}
