"""The order-platform guardrails: CrossGuard rules importable without starting the pack server.

``guardrails.pack`` lists every policy; ``policies/__main__.py`` hands that list to
``PolicyPack`` (which serves), and ``guardrails.evaluate`` runs the same list offline.
"""
