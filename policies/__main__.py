"""The CrossGuard entry point: `pulumi preview --policy-pack policies` runs this file.

The CLI runs it with ``runpy.run_path(<this directory>, run_name="__main__")`` (what
``python -m pulumi.policy`` does), which puts this directory on ``sys.path``, so ``guardrails``
imports; then ``serve()`` builds the ``PolicyPack``, whose constructor starts the gRPC server
and blocks. Importing this module under any other name only defines ``serve``; the rules live
in ``guardrails`` and need no server.
"""

import sys
from pathlib import Path

SERVICES_DIR = Path(__file__).resolve().parent.parent / "services"


def _find_the_catalogue() -> None:
    """Make ``order_platform.processes``, which the rules read, importable under the CLI.

    The repository's .venv has order_platform installed. The CLI runs the pack in a virtualenv
    of its own (``policies/venv``, from requirements.txt: the policy SDK only), with only this
    directory on ``sys.path``; the catalogue is standard-library Python in ../services, so it
    is read from there. This is the one place the pack touches ``sys.path``: it is how the CLI
    launches a pack, and nothing else of the repository needs it.
    """
    try:
        import order_platform  # noqa: F401
    except ModuleNotFoundError:
        sys.path.append(str(SERVICES_DIR))


def serve() -> None:
    """Build the pack from the guardrails list; the constructor serves until the CLI stops it."""
    _find_the_catalogue()
    from pulumi_policy import PolicyPack

    from guardrails.pack import DEFAULT_ENFORCEMENT, PACK_DESCRIPTION, PACK_NAME, POLICIES

    PolicyPack(
        name=PACK_NAME,
        policies=list(POLICIES),
        enforcement_level=DEFAULT_ENFORCEMENT,
        description=PACK_DESCRIPTION,
    )


if __name__ == "__main__":
    serve()
