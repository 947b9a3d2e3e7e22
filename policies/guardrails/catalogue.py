"""The process catalogue (``order_platform.processes``), as the pack reads it.

The catalogue is standard-library Python in ``services/``, next to this pack. Offline and in
the tests it is installed; the Pulumi CLI runs the pack in its own virtualenv
(``policies/venv``, the policy SDK only), so there it is imported from the repository.
"""

from __future__ import annotations

import sys
from pathlib import Path

SERVICES_DIR = Path(__file__).resolve().parents[2] / "services"

try:
    from order_platform import processes
except ModuleNotFoundError:  # the CLI's policies/venv
    sys.path.append(str(SERVICES_DIR))
    from order_platform import processes

API_PORTS: tuple[int, ...] = tuple(
    p.port for p in processes.DEPLOYED if p.kind is processes.Kind.API)
"""The ports the API processes serve on, which the NLB listens on."""
