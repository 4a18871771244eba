"""Errors a user can fix (a bad value, a missing file, a held run directory) are said once, in
their own words, without a traceback; anything else is a bug and keeps its traceback.

Every such error class derives from `UserError`. Entry points run through `exit_on_user_error`;
`HYDRA_FULL_ERROR=1` (Hydra's switch for developers) brings the traceback back for all of them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

FULL_ERROR = "HYDRA_FULL_ERROR"
EXIT_USER_ERROR = 2  # as colorize and export: a problem the user can fix; 1 stays for crashes
_SET_BY_US = "COLORGAN_SET_HYDRA_FULL_ERROR"  # children (DDP ranks, sweep workers) inherit both


class UserError(Exception):
    """Something the user can fix; the message says what was wrong and what to do."""


class UserExit(BaseException):
    """Carries a UserError past handlers that report every Exception their own way (Hydra's
    "Error executing job" and stripped traceback), to `exit_on_user_error`, which says it once."""

    def __init__(self, error: UserError) -> None:
        super().__init__(str(error))
        self.error = error


def user_error_in(error: BaseException | None) -> UserError | None:
    """The UserError behind `error`, following the chain of causes (Hydra's instantiate wraps them)."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, UserError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def wants_traceback() -> bool:
    """True when the user (not colorgan) set HYDRA_FULL_ERROR."""
    return bool(os.environ.get(FULL_ERROR)) and not os.environ.get(_SET_BY_US)


def exit_on_user_error(run: Callable[[], T], prefix: str = "error") -> T:
    """Run an entry point; a UserError ends it with its message on stderr and exit status 2.

    Hydra is asked to re-raise (HYDRA_FULL_ERROR) so the error reaches this function once,
    instead of being printed by Hydra with a stripped traceback.
    """
    developer = wants_traceback()
    if not os.environ.get(FULL_ERROR):
        os.environ[FULL_ERROR] = os.environ[_SET_BY_US] = "1"
    try:
        return run()
    except UserExit as carried:
        found = carried.error
    except Exception as error:
        found = user_error_in(error)
        if found is None or developer:
            raise
    print(f"{prefix}: {found}", file=sys.stderr, flush=True)
    raise SystemExit(EXIT_USER_ERROR)
