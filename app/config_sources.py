"""Where settings come from: the environment, the secrets mapping (``st.secrets`` or ``.streamlit/secrets.toml``)
and the origin each value is shown with. Reading only, never parsing a value; must not import Streamlit or
app.config.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.setting_values import PROJECT_ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

DEFAULT_SECRETS_PATH = PROJECT_ROOT / ".streamlit" / "secrets.toml"
ENVIRONMENT, SECRETS, DEFAULT = "environment", "secrets", "default"


@dataclass(frozen=True)
class ConfigInput:
    """What the loader reads: the environment, the raw secrets mapping, and why the secrets could not be read.

    Sub-parsers (e.g. ``[datasets.NAME]`` tables) get this object, so they follow the same precedence.
    """

    env: Mapping[str, str]
    secrets: Mapping[str, Any]
    secrets_problem: str = ""  # "" when the secrets were read (or there are none)
    # Top-level keys an unreadable secrets file seems to set (read line by line): they cannot be trusted.
    unreadable_keys: frozenset[str] = frozenset()

    def lookup(self, key: str) -> tuple[Any, str] | None:
        """(raw value, origin) by precedence: environment, then secrets; None when neither sets `key`."""
        if key in self.env:
            return self.env[key], ENVIRONMENT
        if key in self.secrets:
            return self.secrets[key], SECRETS
        return None


_TOP_LEVEL_KEY = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=")


def read_secrets_file(path: Path) -> tuple[dict[str, Any], str, frozenset[str]]:
    """Parse a secrets.toml: (mapping, problem, keys an unreadable file seems to set); never raises."""
    if not path.exists():
        return {}, "", frozenset()
    try:
        raw = path.read_bytes()
        return tomllib.loads(raw.decode("utf-8")), "", frozenset()
    except OSError as exc:
        return {}, f"{path} cannot be read ({exc.strerror or type(exc).__name__})", frozenset()
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        # The parser's message names a line and column, never a value.
        keys = frozenset(
            m.group(1) for line in raw.decode("utf-8", "replace").splitlines() if (m := _TOP_LEVEL_KEY.match(line))
        )
        return {}, f"{path} is not valid TOML ({exc})", keys


def read_config_input(
    env: Mapping[str, str] | None = None,
    secrets: Mapping[str, Any] | None = None,
    secrets_path: Path | None = None,
    secrets_problem: str = "",
) -> ConfigInput:
    """`secrets` (e.g. st.secrets as a dict) wins over reading `secrets_path`."""
    env = os.environ if env is None else env
    unreadable: frozenset[str] = frozenset()
    if secrets is None:
        secrets, problem, unreadable = read_secrets_file(secrets_path or DEFAULT_SECRETS_PATH)
        secrets_problem = secrets_problem or problem
    return ConfigInput(dict(env), dict(secrets), secrets_problem, unreadable)


@functools.lru_cache(maxsize=1)
def startup_environment() -> Mapping[str, str] | None:
    """The environment this process was started with (Linux /proc); None where the OS does not tell."""
    try:
        raw = Path("/proc/self/environ").read_bytes()
    except OSError:
        return None
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


def environment_without_promoted_secrets(
    secrets: Mapping[str, Any],
    env: Mapping[str, str] | None = None,
    started_with: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """os.environ minus what Streamlit copied into it from the secrets.

    Streamlit writes every top-level str/int/float secret into os.environ, overwriting a variable the user
    set: read naively, the secrets would win over the environment. A variable that now equals its secret is
    taken from the environment the process started with (when the OS tells) or else left to the secrets
    (same value either way; only its origin is then shown as "secrets").
    """
    result = dict(os.environ if env is None else env)
    for key, value in secrets.items():
        if type(value) in (str, int, float) and result.get(key) == str(value):
            if started_with is not None and key in started_with:
                result[key] = started_with[key]
            else:
                del result[key]
    return result
