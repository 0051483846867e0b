"""Explaining each result: the reason from evidence, and the text that cites it."""
