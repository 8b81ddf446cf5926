"""The one exception tree of Freshdash; messages name the offending key and value.

AppError
├── ConfigError      a setting has a value we cannot use
├── StoreError       the database cannot be reached or used
├── SourceError      a data source failed or sent bad data
├── DeliveryError    an e-mail could not be handed to the SMTP server
├── SchedulerError   a scheduler operation cannot be done now
│   ├── UnknownJobError
│   └── TriggerError  a trigger text that cannot be read (names what is allowed)
└── LeaseLostError   a run's lease was taken over (a zombie must not commit)
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
    pass


class TriggerError(SchedulerError):
    pass


class LeaseLostError(AppError):
    """The run no longer holds its lease (fencing token moved on); its writes must roll back."""
