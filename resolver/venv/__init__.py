"""The venv itself: its creation, nesting and isolation, and the lock that admits one writer."""
