"""Every acceleration of a fill, in one package.

The core reaches them only through resolver/acceleration.py's points, which
accelerated.py implements; cli/speed.py chooses it unless VENVFILL_SPEED=plain.
Remembered and early probes, the ledger, work ahead, forked workers, prestaging,
recipes, the up-to-date path, the resolution loop, the process's end: each module
says which point it serves.  The up-to-date path and recipe replay (quick.py,
recipes.py) run from cli/__init__.py before the full command line is imported.
"""
