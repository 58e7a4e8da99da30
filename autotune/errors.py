"""Errors a user can cause and fix: the CLI prints them on one line and exits with status 2."""


class AutotuneError(Exception):
    """Base class for every user-facing error."""


class WorkloadError(AutotuneError, ValueError):
    """An unknown kernel or an invalid kernel parameter."""


class TargetError(AutotuneError, ValueError):
    """A target that cannot be parsed or used here."""


class LogError(AutotuneError):
    """A tuning log that is missing, unreadable or for another target."""


class PackageError(AutotuneError):
    """A deployment package that is missing, tampered with or built for another machine."""


class ModelError(AutotuneError):
    """An ONNX model that cannot be read, imported or built."""


class RemoteError(AutotuneError):
    """Remote devices that cannot be reached: a tracker that does not answer, or no server
    left under the key. Never a verdict on a kernel."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C ended a search; its message says what the logs kept."""


def first_line(err: BaseException) -> str:
    """The first non-blank line of an error's message (its type's name if it has none)."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    return lines[0] if lines else type(err).__name__


def last_line(err: BaseException) -> str:
    """The last non-blank line of an error's message (its type's name if it has none): what
    TVM's Python-side errors say, after the traceback they carry."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    return lines[-1] if lines else type(err).__name__
