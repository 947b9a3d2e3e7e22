"""Offline policy check: `python policies/evaluate.py [--stack dev]` (what `make policy` runs).

Puts the pack (``policies/``) and the repo root (for ``infra``) on ``sys.path`` and hands
over to ``guardrails.offline``. The Pulumi CLI never runs this file; it runs ``__main__.py``.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from guardrails.offline import main  # noqa: E402 - needs the paths above

if __name__ == "__main__":
    sys.exit(main())
