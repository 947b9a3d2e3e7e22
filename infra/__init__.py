"""The order-platform Pulumi program (``main: infra/`` in Pulumi.yaml) and its offline harness."""
