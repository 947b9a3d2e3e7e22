"""Multiprocess metric values written with less ceremony than prometheus_client's own.

In multiprocess mode (the APIs under gunicorn) every value lives in a memory-mapped file of
its process. The library's value takes its lock, asks the kernel for the pid (to notice a
fork: getpid is a system call since glibc 2.25) and goes through two helper functions on
every ``inc`` and ``set``: about eight calls, nine times a request. ``LeanValue`` keeps the
library's files, keys and fork handling (it is the library's class, subclassed) and writes
its slot directly; the pid it compares is read from a variable that a fork hook refreshes.

It relies on private parts of prometheus_client (the file's mapping and positions, the
name-mangled pid check), pinned in the lock file: ``tests/unit/test_metric_recorders.py``
compares the exposition with the library's own values, in multiprocess mode, so an upgrade
that changes them fails there first.
"""

from __future__ import annotations

import os
import struct
import threading

from prometheus_client import values

_TWO_DOUBLES = struct.Struct("dd").pack
_pid = os.getpid()


def _forked() -> None:
    global _pid  # noqa: PLW0603 - the process's one pid, refreshed in a forked child
    _pid = os.getpid()


def current_pid() -> int:
    """This process's pid, without a system call."""
    return _pid


os.register_at_fork(after_in_child=_forked)


def lean_value_class() -> type:
    """A value class for ``values.ValueClass``: the library's multiprocess value (one set of
    files per process, as the library keeps it), with direct writes."""
    base = values.MultiProcessValue(process_identifier=current_pid)
    lock = threading.Lock()
    checked = [_pid]

    class LeanValue(base):
        """The library's multiprocess value; ``inc`` and ``set`` write the slot directly."""

        def inc(self, amount: float) -> None:
            with lock:
                self._write(amount, 0.0, add=True)

        def set(self, value: float, timestamp: float | None = None) -> None:
            with lock:
                self._write(value, timestamp or 0.0, add=False)

        def _write(self, number: float, timestamp: float, *, add: bool) -> None:
            # Under the lock. After a fork the library reopens every file (and rereads the
            # values) first. Then what MmapedDict.write_value does for a key it has (each is
            # added as its value is made): a slice assignment, like the library's, so a
            # reader never sees the slot half-written.
            if checked[0] != _pid:
                self._MmapedValue__check_for_pid_change()
                checked[0] = _pid
            value = self._value + number if add else number
            self._value, self._timestamp = value, timestamp
            file = self._file
            at = file._positions[self._key]
            file._m[at:at + 16] = _TWO_DOUBLES(value, timestamp)

    return LeanValue


def install() -> None:
    """Use ``LeanValue`` for every value made from now on, in multiprocess mode only. Call
    before any metric exists: values of two classes would share one file per process."""
    if getattr(values.ValueClass, "_multiprocess", False) \
            and not getattr(values.ValueClass, "_lean", False):
        values.ValueClass = lean_value_class()
        values.ValueClass._lean = True
