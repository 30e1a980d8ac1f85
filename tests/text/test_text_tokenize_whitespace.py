"""The whitespace tokenizer keeps every token of a pre-tokenized corpus."""

from unrolled.text.tokenize import WhitespaceTokenizer, get_tokenizer

PTB = " the <unk> company does n't pay $ N a share \n it 's 3.14 mr. <unk> 's state-of-the-art\n"


def test_keeps_every_pre_tokenized_token():
    tokens = WhitespaceTokenizer().tokenize(PTB)
    assert tokens == PTB.split()
    assert {"<unk>", "n't", "$", "N", "'s", "3.14", "mr.", "state-of-the-art"} <= set(tokens)


def test_newlines_and_round_trip():
    tok = get_tokenizer("whitespace", keep_newlines=True)
    tokens = tok.tokenize("a  b\r\nc\td\n")
    assert tokens == ["a", "b", "\n", "c", "d", "\n"]
    assert tok.detokenize(tokens) == "a b\nc d\n"
    assert tok.tokenize(tok.detokenize(tokens)) == tokens
