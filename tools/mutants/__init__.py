"""Mutation testing: how much of a module's behaviour the fast tests would notice changing.

``python -m tools.mutants`` (``make mutants``) reads ``tools/mutants/config.toml`` for the modules
to mutate and the fast test selection, makes one small change at a time to a module's syntax
tree (``operators``), runs the tests that execute the changed line against it (``runner``) and
reports per module how many changes the tests noticed. Changes that alter no behaviour are
listed, each with its reason, in ``tools/mutants/equivalent.txt``.
"""
