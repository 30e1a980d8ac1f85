import pytest

from unrolled.text import Normalizer


def test_default_is_identity():
    text = "  Hello,\tWörld! 3.14 €5 ﬁ\n\n"
    assert Normalizer()(text) == text


def test_lowercase_unicode():
    # str.lower applies the Greek final-sigma rule.
    assert Normalizer(lowercase=True)("ÀB Ç ΣΑΣ") == "àb ç σας"


def test_strip_punctuation_uses_unicode_categories():
    text = "Hello, world! «Quote» — it's (fine)."
    assert Normalizer(strip_punctuation=True)(text) == "Hello world Quote  its fine"


def test_strip_punctuation_with_replacement():
    assert Normalizer(strip_punctuation=True, replacement=" ")("a,b.c") == "a b c"


def test_strip_numbers_includes_non_ascii_numerals():
    assert Normalizer(strip_numbers=True)("Room 101, x² Ⅻ ٣!") == "Room , x  !"


def test_strip_special_removes_symbols_and_controls_not_whitespace():
    text = "Price: $5 + tax © 😀\x00\t"
    assert Normalizer(strip_special=True)(text) == "Price: 5  tax  \t"


def test_collapse_whitespace():
    assert Normalizer(collapse_whitespace=True)("  a \t b\n\n c  ") == "a b c"


def test_collapse_whitespace_keep_newlines():
    norm = Normalizer(collapse_whitespace=True, keep_newlines=True)
    assert norm("  a \t b \n\n  c  \n") == "a b\nc"


def test_unicode_form_nfkc():
    assert Normalizer(unicode_form="NFKC")("ﬁ①Ａ") == "fi1A"


def test_steps_combined_in_documented_order():
    norm = Normalizer(lowercase=True, strip_punctuation=True, strip_numbers=True, collapse_whitespace=True)
    assert norm("Hello,  World! It's 2024.") == "hello world its"


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"lowercase": 1}, TypeError, "lowercase to be a bool"),
        ({"unicode_form": "NFX"}, ValueError, "unicode_form in"),
        ({"keep_newlines": True}, ValueError, "collapse_whitespace=True"),
        ({"replacement": None}, TypeError, "replacement to be a str"),
    ],
)
def test_config_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        Normalizer(**kwargs)


def test_non_str_input():
    with pytest.raises(TypeError, match="expected text to be a str, got bytes"):
        Normalizer()(b"abc")
