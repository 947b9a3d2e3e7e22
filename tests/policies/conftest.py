"""Where the pack lives; its ``guardrails`` package imports from the tooling install."""

from pathlib import Path

POLICIES_DIR = Path(__file__).resolve().parents[2] / "policies"
