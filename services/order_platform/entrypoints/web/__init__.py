"""What the write API and the read API share: app base, errors, request hooks, health."""
