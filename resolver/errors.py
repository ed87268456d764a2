"""Every failure venvfill reports on purpose, each kind with its exit code.

A user should never see a traceback: third-party exceptions (tomllib, zipfile,
resolvelib, installer, subprocess) are translated into one of these at the
boundary where they happen, with ``raise ... from exc``.  The command line
prints ``str(error)`` and exits with ``error.exit_code``.  The codes are
documented in docs/reference/exit-codes.md; keep the two in step.
"""

from __future__ import annotations

from typing import ClassVar


class VenvfillError(Exception):
    """Base of every error venvfill reports; ``exit_code`` 1 is a bug in venvfill."""

    exit_code: ClassVar[int] = 1
    kind: ClassVar[str] = "error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n{self.hint}"
        return self.message


class UsageError(VenvfillError):
    """The command line asks for something impossible or unknown."""

    exit_code = 2
    kind = "usage error"


class ManifestError(VenvfillError):
    """The manifest is unreadable or invalid; every problem is listed at once."""

    exit_code = 2
    kind = "manifest error"

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        count = f"{len(problems)} problems" if len(problems) > 1 else "a problem"
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"{path} has {count}:\n{lines}",
            hint="Fix the manifest and run again; nothing was created or changed.",
        )


class TargetError(VenvfillError):
    """The target interpreter is missing, not Python, too old, or its probe failed."""

    exit_code = 3
    kind = "target interpreter error"


class UnsatisfiableError(VenvfillError):
    """The manifest cannot be satisfied from the sources available offline."""

    exit_code = 4
    kind = "cannot satisfy"

    def __init__(self, message: str, *, hint: str | None = None,
                 needs: tuple[str, ...] = ()) -> None:
        super().__init__(message, hint=hint)
        self.needs = needs
        """What is missing, as requirement strings ("setuptools>=40.8.0")."""


class WheelError(VenvfillError):
    """A wheel is corrupt, inconsistent or unfit; names the file."""

    exit_code = 5
    kind = "bad wheel"


class InstallError(VenvfillError):
    """Writing into the venv failed; the venv was rolled back to its earlier state."""

    exit_code = 5
    kind = "installation failed"


class VenvError(VenvfillError):
    """The venv directory cannot be created, reused or refreshed."""

    exit_code = 6
    kind = "venv error"


class CanaryError(VenvfillError):
    """A package was filled but the program it should provide is not in the venv."""

    exit_code = 7
    kind = "canary missing"


class HashError(VenvfillError):
    """A wheel does not match its hash pin, or lacks one under --require-hashes."""

    exit_code = 8
    kind = "hash check failed"


class NetworkError(VenvfillError):
    """An index could not be reached or answered badly (only ever with --online)."""

    exit_code = 9
    kind = "network error"

    def __init__(self, message: str, *, status: int | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class BuildError(VenvfillError):
    """An sdist could not be unpacked or its build backend failed."""

    exit_code = 10
    kind = "sdist build failed"


class LockError(VenvfillError):
    """A pylock.toml is invalid, or does not apply to the target."""

    exit_code = 2
    kind = "lock file error"
