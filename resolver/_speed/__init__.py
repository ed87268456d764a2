"""Every acceleration of a fill, in one package.

Remembered and early probes, the ledger, forked workers, prestaging, recipes, the
up-to-date path, the resolution loop.

The stages do not yet reach these through one interface (issue 29, item 2): they
import what they use from here, and each module says which stage it speeds up.
"""
