"""The order platform on one machine (`make dev`): dev and test tooling, never in the image."""
