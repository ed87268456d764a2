"""Writing a plan into the venv: staging, the journaled commit, console scripts."""
