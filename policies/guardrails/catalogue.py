"""The process catalogue (``order_platform.processes``), as the pack reads it.

The catalogue is standard-library Python in ``services/``. The repository's .venv has it
installed; under the Pulumi CLI, the pack's entry point (``policies/__main__.py``) makes it
importable from the repository.
"""

from __future__ import annotations

from order_platform import processes

API_PORTS: tuple[int, ...] = tuple(
    p.port for p in processes.DEPLOYED if p.kind is processes.Kind.API and p.port is not None)
"""The ports the API processes serve on, which the NLB listens on."""
