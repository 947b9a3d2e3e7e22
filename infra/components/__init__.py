"""Pulumi ComponentResources of the order platform, one per concern."""
