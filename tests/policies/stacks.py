"""Simulated stacks shared by the policy tests: each shipped stack once, and a broken copy."""

import copy
from functools import cache

from infra import simulation

# Bound at import: tests replace ``simulation.run_stack`` with a lambda that calls
# ``shipped_run``, and a stack no earlier test of the session ran would then recurse.
_run_stack = simulation.run_stack


@cache
def shipped_run(stack):
    """The program under mocks for a shipped stack (run once per test session)."""
    return _run_stack(stack)


def broken(stack):
    """A deep copy of a shipped run with an unencrypted cluster, a queue without a DLQ and a
    container running as root."""
    run = copy.deepcopy(shipped_run(stack))
    cluster = run.of_type("aws:rds/cluster:Cluster")[0]
    cluster.inputs["storageEncrypted"] = False
    cluster.inputs.pop("kmsKeyId", None)
    queue = next(q for q in run.of_type("aws:sqs/queue:Queue") if "redrivePolicy" in q.inputs)
    del queue.inputs["redrivePolicy"]
    deployment = run.of_type("kubernetes:apps/v1:Deployment")[0]
    pod = deployment.inputs["spec"]["template"]["spec"]
    pod["securityContext"].update(runAsNonRoot=False, runAsUser=0)
    pod["containers"][0]["securityContext"].update(runAsNonRoot=False, runAsUser=0)
    # The mocked state echoes the inputs; keep it in step, as a preview's outputs would be.
    for resource, removed in ((cluster, "kmsKeyId"), (queue, "redrivePolicy"), (deployment, "")):
        resource.outputs.pop(removed, None)
        resource.outputs.update(copy.deepcopy(resource.inputs))
    return run, cluster, queue, deployment
