"""bench.per_request's reading of its tools' output: each phase between its two marks."""

from __future__ import annotations

import pytest

from bench import per_request


def _dumps(tmp_path, totals):
    for number, total in enumerate(totals, 1):
        (tmp_path / f"callgrind.out.77.{number}").write_text(
            f"# callgrind format\nevents: Ir\nsummary: {total}\ntotals: {total}\n")
    (tmp_path / "callgrind.out.77").write_text("summary: 5\n")  # after the last mark


def test_each_phase_is_the_dump_its_closing_mark_made_per_request(tmp_path):
    # before, phase, before, phase, ...
    totals = [900, 2000, 7, 4000, 7, 6000, 7, 8000]
    _dumps(tmp_path, totals)
    assert per_request._instructions(tmp_path, 4) == dict(zip(
        per_request.PHASES, (500, 1000, 1500, 2000), strict=True))


def test_a_stray_mark_is_an_error_rather_than_phases_shifted(tmp_path):
    _dumps(tmp_path, [900, 2000, 7, 4000, 7, 6000, 7, 8000, 3])
    with pytest.raises(RuntimeError, match="9 parts"):
        per_request._instructions(tmp_path, 4)


def test_system_calls_are_counted_by_name_per_request_between_the_marks(tmp_path):
    lines = ["10 openat(AT_FDCWD, \"x\", O_RDONLY) = 3"]
    for phase in range(len(per_request.PHASES)):
        lines += ["10 getppid()                         = 1",
                  *["10 getpid()                          = 10"] * (phase + 1) * 2,
                  "11 futex(0x7f, FUTEX_WAIT_PRIVATE, 0, NULL <unfinished ...>",
                  "11 <... futex resumed>)               = 0",
                  "10 getppid()                         = 1",
                  "10 write(2, \"x\", 1)                = 1"]
    trace = tmp_path / "strace.txt"
    trace.write_text("\n".join(lines) + "\n")
    counts = per_request._system_calls(trace, 2)
    assert counts[per_request.PHASES[0]] == {"getpid": 1.0, "futex": 0.5}
    assert counts[per_request.PHASES[3]] == {"getpid": 4.0, "futex": 0.5}


def test_a_stray_mark_in_the_trace_is_an_error_too(tmp_path):
    marks = ["10 getppid()                         = 1"] * (2 * len(per_request.PHASES) + 1)
    trace = tmp_path / "strace.txt"
    trace.write_text("\n".join(marks) + "\n")
    with pytest.raises(RuntimeError, match="9 parts"):
        per_request._system_calls(trace, 1)
