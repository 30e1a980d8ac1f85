"""Scores of predictions: classification and entity F1, translation BLEU / chrF, forecast errors.

Plain functions of tensors, lists and strings: no model is imported here.
"""
