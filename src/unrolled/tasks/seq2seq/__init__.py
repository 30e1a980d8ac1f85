"""The sequence-to-sequence task: translation and normalisation with encoder-decoder models.

unrolled train seq2seq --data eng-fra.txt --tokenizer word --attention general
unrolled train seq2seq --builtin dates
unrolled translate RUN "Go." --beam 5 --show-attention attn.png
"""
