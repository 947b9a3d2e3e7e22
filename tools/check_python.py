"""Before `make` builds .venv: is this interpreter one the project runs on, able to make a venv?

Run by the system interpreter the user has, which may be old: the syntax stays Python 3.0
compatible, and each problem is one line that says what to do. Exit 0 when all is well.
"""

import sys

SUPPORTED = ((3, 11), (3, 12))  # as pyproject.toml's requires-python says


def problem(version, can_make_venv):
    """The one-line message for what is wrong, or None."""
    found = tuple(version[:2])
    if found not in SUPPORTED:
        return ("make: %s is Python %d.%d; order-platform needs Python 3.11 or 3.12. Install "
                "one, then pass it: make <target> PYTHON=python3.11" % ((sys.executable,) + found))
    if not can_make_venv:
        return ("make: %s cannot create a virtual environment (its venv/ensurepip module is "
                "missing). On Debian or Ubuntu: apt-get install python%d.%d-venv; or pass "
                "another interpreter: make <target> PYTHON=..." % ((sys.executable,) + found))
    return None


def _can_make_venv():
    try:
        import ensurepip  # noqa: F401  Debian splits it from python3 into python3-venv
        import venv  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    message = problem(sys.version_info, _can_make_venv())
    if message:
        sys.stderr.write(message + "\n")
        sys.exit(1)
