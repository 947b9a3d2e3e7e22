"""Make the pack's ``guardrails`` package importable the way the Pulumi CLI does.

The CLI runs ``policies/`` with that directory on ``sys.path``; the tests do the same.
"""

import sys
from pathlib import Path

POLICIES_DIR = Path(__file__).resolve().parents[2] / "policies"
if str(POLICIES_DIR) not in sys.path:
    sys.path.insert(0, str(POLICIES_DIR))
