"""The one exception tree of Freshdash; messages name the offending key and value.

AppError
├── ConfigError      a setting has a value we cannot use
├── StoreError       the database cannot be reached or used
├── SourceError      a data source failed or sent bad data
├── DeliveryError    an e-mail could not be handed to the SMTP server
├── SchedulerError   a scheduler operation cannot be done now
│   ├── UnknownJobError
│   └── TriggerError  a trigger text that cannot be read (names what is allowed)
└── LeaseLostError   a run must stop and not commit (`except LeaseLostError` catches the three below)
    ├── LeaseTakenOverError  its lease was taken over: the fence moved on (a zombie must not commit)
    ├── CursorMovedError     its sync cursor moved on since it read it (another run or a resync wrote first)
    └── RunCancelledError    it was told to stop: its timeout passed, its lease was lost, or the process stops
"""

from __future__ import annotations


class AppError(Exception):
    """Base of every error Freshdash raises on purpose."""


class ConfigError(AppError):
    pass


class StoreError(AppError):
    pass


class SourceError(AppError):
    pass


class DeliveryError(AppError):
    """Names the SMTP server (host:port) and what failed; never the password."""


class SchedulerError(AppError):
    pass


class UnknownJobError(SchedulerError):
    """Names the job; `why` replaces the default "no job named ..." (e.g. not registered in this process)."""

    def __init__(self, name: str, why: str = "") -> None:
        self.name = name
        super().__init__(f"job {name!r} {why}" if why else f"no job named {name!r}")


class TriggerError(SchedulerError):
    pass


class LeaseLostError(AppError):
    """The run must stop and its writes roll back; the base of the three reasons below."""


class LeaseTakenOverError(LeaseLostError):
    """The run no longer holds its lease (the fencing token moved on); its writes must roll back."""


class CursorMovedError(LeaseLostError):
    """The sync cursor moved on since the run read it (compare-and-set failed); its batch rolls back."""


class RunCancelledError(LeaseLostError):
    """The runner cancelled the run (timeout, lease lost or shutdown); the job stops at its next progress()."""
