"""Benchmark checks (checkov) on what the program synthesizes.

checkov reads no Pulumi: ``render`` turns a simulated stack (``infra.simulation``) into the two
formats it scans, Kubernetes manifests and a Terraform-plan JSON (pulumi-aws is the Terraform AWS
provider bridged, so every AWS resource is a Terraform resource with the same attributes);
``scan`` runs checkov once over every stack and reads its findings; ``accepted.yaml`` is the one
reviewed list of findings that are choices, each with its reason.
"""
