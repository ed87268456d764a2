"""Deciding what the venv gets: candidates, the resolvelib provider, the plan, pins, locks."""
