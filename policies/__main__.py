"""The CrossGuard entry point: `pulumi preview --policy-pack policies` runs this file.

The CLI runs it with ``runpy.run_path(<this directory>, run_name="__main__")``, which puts this
directory on ``sys.path`` (so ``guardrails`` imports) and then ``serve()`` builds the
``PolicyPack``, whose constructor starts the gRPC server and blocks. Importing this module under
any other name only defines ``serve``; the rules live in ``guardrails`` and need no server.
"""

from guardrails.pack import DEFAULT_ENFORCEMENT, PACK_DESCRIPTION, PACK_NAME, POLICIES
from pulumi_policy import PolicyPack


def serve() -> None:
    """Build the pack from the guardrails list; the constructor serves until the CLI stops it."""
    PolicyPack(
        name=PACK_NAME,
        policies=list(POLICIES),
        enforcement_level=DEFAULT_ENFORCEMENT,
        description=PACK_DESCRIPTION,
    )


if __name__ == "__main__":
    serve()
