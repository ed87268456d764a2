"""``python -m resolver``: the same as the ``venvfill`` command."""

from .cli import command

if __name__ == "__main__":
    command()
