"""The AWS emulator's gunicorn command line."""

from __future__ import annotations

from gunicorn.config import Config

from order_local import emulator


def test_the_emulator_opens_no_control_socket_in_the_home_directory():
    # gunicorn >= 25.1 opens one at ~/.gunicorn/gunicorn.ctl unless told not to: shared by
    # every emulator on the machine and left behind. Its own parser must read the flag.
    parsed = Config().parser().parse_args(emulator.command(4566)[3:])
    assert parsed.control_socket_disable is True
    assert parsed.bind == ["127.0.0.1:4566"]
