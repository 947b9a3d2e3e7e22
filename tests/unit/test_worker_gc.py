"""An API worker that has loaded its app takes it out of the garbage collector's walks."""

from __future__ import annotations

import gc
import importlib


def test_what_a_worker_loaded_is_left_out_of_every_collection():
    conf = importlib.import_module("order_platform.entrypoints.web.gunicorn_conf")
    loaded = {"schemas": [object()]}  # stands for the app: built before the worker serves
    try:
        conf.post_worker_init(None)
        assert gc.get_freeze_count() > 0
        assert not any(obj is loaded for obj in gc.get_objects())
        served = {"request": [object()]}  # made afterwards: collected as usual
        assert any(obj is served for obj in gc.get_objects())
    finally:
        gc.unfreeze()
