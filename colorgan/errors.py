"""Errors a user can fix (a bad value, a missing file, a held run directory) are said once, in
their own words, without a traceback; anything else is a bug and keeps its traceback.

Every such error class derives from `UserError`. Every command runs through `exit_on_user_error`
(a command whose `main(argv)` returns its exit status through `user_command`, which is the same rule
returning the status instead of exiting): a UserError is one `error: ...` paragraph on stderr and
exit status EXIT_USER_ERROR (2), as for argparse's own usage errors; 1 stays for crashes.
`HYDRA_FULL_ERROR=1` (Hydra's switch for developers) brings the traceback back for all of them.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

T = TypeVar("T")
P = ParamSpec("P")

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


class UserErrorExit(SystemExit):
    """The SystemExit of `exit_on_user_error` once it has said the error (code EXIT_USER_ERROR)."""


class CommandLineError(UserError):
    """An override Hydra cannot parse or apply, or a ${...} in the config that cannot be resolved."""


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


def _library_user_error(error: BaseException) -> UserError | None:
    """Hydra's and OmegaConf's errors that are the command line's fault, said in one paragraph."""
    from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException
    from omegaconf.errors import InterpolationKeyError, InterpolationResolutionError, MissingMandatoryValue

    if isinstance(error, OverrideParseException):
        text = _one_line(error).split(" See https://")[0]
        return CommandLineError(
            f"Cannot parse the command line's overrides ({text}). Write each as key=value; a value holding "
            "spaces, quotes, brackets or commas goes in quotes for Hydra inside quotes for the shell, e.g. "
            "'name=\"my run\"' (https://hydra.cc/docs/advanced/override_grammar/basic).")
    if isinstance(error, (MissingConfigException, ConfigCompositionException)):
        return CommandLineError(f"{_one_line(error).split(' Config search path:')[0]} Nothing was run.")
    if isinstance(error, (InterpolationResolutionError, InterpolationKeyError, MissingMandatoryValue)):
        return CommandLineError(
            f"A value of the config cannot be resolved: {_one_line(error)}. Set what it reads (an environment "
            "variable for ${oc.env:...}) or give the value on the command line. Nothing was run.")
    return None


def user_error_in(error: BaseException | None) -> UserError | None:
    """The UserError behind `error`, following the chain of causes (Hydra's instantiate wraps them);
    Hydra's and OmegaConf's command-line errors count as user errors."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, UserError):
            return error
        found = _library_user_error(error)
        if found is not None:
            return found
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def wants_traceback() -> bool:
    """True when the user (not colorgan) set HYDRA_FULL_ERROR."""
    return bool(os.environ.get(FULL_ERROR)) and not os.environ.get(_SET_BY_US)


def exit_on_user_error(run: Callable[[], T], prefix: str = "error") -> T:
    """Run an entry point; a UserError ends it with its message on stderr and exit status 2
    (UserErrorExit, a SystemExit).

    Hydra is asked to re-raise (HYDRA_FULL_ERROR) so the error reaches this function once,
    instead of being printed by Hydra with a stripped traceback; the environment is restored after.
    """
    developer = wants_traceback()
    set_here = not os.environ.get(FULL_ERROR)
    if set_here:
        os.environ[FULL_ERROR] = os.environ[_SET_BY_US] = "1"
    try:
        return run()
    except UserExit as carried:
        found = carried.error
    except Exception as error:
        found = user_error_in(error)
        if found is None or developer:
            raise
    finally:
        if set_here:
            os.environ.pop(FULL_ERROR, None)
            os.environ.pop(_SET_BY_US, None)
    print(f"{prefix}: {found}", file=sys.stderr, flush=True)
    raise UserErrorExit(EXIT_USER_ERROR)


def user_command(main: Callable[P, int]) -> Callable[P, int]:
    """A command's `main(argv) -> exit status` run through `exit_on_user_error`, returning
    EXIT_USER_ERROR after the message instead of exiting, so `sys.exit(main())` and a caller in the
    same process see the same status."""

    @functools.wraps(main)
    def run(*args: P.args, **kwargs: P.kwargs) -> int:
        try:
            return exit_on_user_error(lambda: main(*args, **kwargs))
        except UserErrorExit as said:
            return said.code

    return run
