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
