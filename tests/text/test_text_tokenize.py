import pytest

from unrolled.text import TOKENIZERS, CharTokenizer, Tokenizer, WordTokenizer, get_tokenizer

TRICKY = [
    "Hello, world!",
    "don't stop; it's state-of-the-art (really) at 3.14 or 1,000.",
    "He said: “no”… 50% of $3.50 — fine?!",
    "'quoted' rock’n’roll -x --y e.g. naïve Москва",
    "first line.\nsecond line\r\n\nthird",
]


def test_char_tokenizer_keeps_every_character():
    text = "Hi,\n  wörld 😀\t!"
    tokens = CharTokenizer().tokenize(text)
    assert tokens == ["H", "i", ",", "\n", " ", " ", "w", "ö", "r", "l", "d", " ", "😀", "\t", "!"]
    assert CharTokenizer().detokenize(tokens) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("don't", ["don't"]),
        ("state-of-the-art", ["state-of-the-art"]),
        ("3.14", ["3.14"]),
        ("Hello, world!", ["Hello", ",", "world", "!"]),
        ("It is 3.14.", ["It", "is", "3.14", "."]),
        ("I can't pay $1,000 (or 2€)...", ["I", "can't", "pay", "$", "1,000", "(", "or", "2", "€", ")", ".", ".", "."]),
        ("'quoted' rock’n’roll -x", ["'", "quoted", "'", "rock’n’roll", "-", "x"]),
        ("e.g. naïve Москва", ["e", ".", "g", ".", "naïve", "Москва"]),
        ("a\nb", ["a", "b"]),
        ("", []),
    ],
)
def test_word_tokens(text, expected):
    assert WordTokenizer().tokenize(text) == expected


def test_word_keep_newlines():
    tok = WordTokenizer(keep_newlines=True)
    assert tok.tokenize("line one.\nline two\r\n\nend\r") == [
        "line", "one", ".", "\n", "line", "two", "\n", "\n", "end", "\n",
    ]  # fmt: skip
    assert tok.detokenize(tok.tokenize("Roses are red,\nViolets are blue.\n\nEnd")) == (
        "Roses are red,\nViolets are blue.\n\nEnd"
    )


@pytest.mark.parametrize(
    "text",
    ["Hello, world!", "He said (quietly): “no”.", "It costs 50%, not 3.14!", "Wait… what?"],
)
def test_word_detokenize_exact_on_normally_spaced_text(text):
    tok = WordTokenizer()
    assert tok.detokenize(tok.tokenize(text)) == text


@pytest.mark.parametrize("text", TRICKY)
@pytest.mark.parametrize("keep_newlines", [False, True])
def test_word_detokenize_is_token_level_inverse(text, keep_newlines):
    tok = WordTokenizer(keep_newlines=keep_newlines)
    tokens = tok.tokenize(text)
    assert tok.tokenize(tok.detokenize(tokens)) == tokens


def test_detokenize_spacing_rules():
    tok = WordTokenizer()
    assert tok.detokenize(["a", "(", "b", ")", ",", "c", "\n", "d", "."]) == "a (b), c\nd."
    assert tok.detokenize([]) == ""


def test_registry():
    assert set(TOKENIZERS) == {"char", "word", "whitespace"}
    assert get_tokenizer("char") == CharTokenizer()
    word = get_tokenizer("word", keep_newlines=True)
    assert word == WordTokenizer(keep_newlines=True)
    assert isinstance(word, Tokenizer) and isinstance(CharTokenizer(), Tokenizer)


def test_registry_errors():
    with pytest.raises(ValueError, match=r"unknown tokenizer 'bpe'; expected one of: char, whitespace, word"):
        get_tokenizer("bpe")
    with pytest.raises(TypeError, match=r"tokenizer 'char' has no option\(s\) keep_newlines; valid options: none"):
        get_tokenizer("char", keep_newlines=True)
    with pytest.raises(TypeError, match="tokenizer name"):
        get_tokenizer(["word"])


def test_input_errors():
    with pytest.raises(TypeError, match="expected text to be a str, got list"):
        WordTokenizer().tokenize(["a"])
    with pytest.raises(TypeError, match="expected a list of str tokens, got str"):
        CharTokenizer().detokenize("abc")
    with pytest.raises(TypeError, match="expected str tokens, got int"):
        WordTokenizer().detokenize(["a", 1])
    with pytest.raises(TypeError, match="keep_newlines to be a bool"):
        WordTokenizer(keep_newlines="yes")
