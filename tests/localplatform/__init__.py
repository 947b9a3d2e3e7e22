"""Tests that start nothing but need the local platform (``order_local``) installed: its own
code, and the tools built on it (``make load``'s options). The unit tests need neither."""
