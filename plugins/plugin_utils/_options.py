# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The roles' numeric and boolean variables, typed and checked once.

Extra variables (``-e failover_max_lag=900``) and AWX survey answers arrive as strings, and extra variables
outrank anything a role could set under the same name. So each role reads its variables through
``typed_options`` once, into a fact of its own, and uses only that.

Controller-side and private: its API may change at any time.
"""

from __future__ import annotations

import typing as t

from ansible_collections.storage.replication.plugins.plugin_utils._set_base import SetError

TRUE = ("true", "yes", "on", "1")
FALSE = ("false", "no", "off", "0")
# kind -> (what it is, the smallest value, whether it may be left empty)
KINDS: dict[str, tuple[str, float | None, bool]] = {
    "seconds": ("a whole number of seconds, 0 or more", 0, False),
    "seconds?": ("a whole number of seconds, 0 or more, or empty", 0, True),
    "count": ("a whole number, 1 or more", 1, False),
    "interval": ("a number of seconds above 0", None, False),
    "bool": ("true or false", None, False),
}


def _typed(name: str, value: t.Any, kind: str) -> t.Any:
    what, low, optional = KINDS[kind]
    if value is None or (isinstance(value, str) and not value.strip()):
        if optional:
            return None
        raise SetError(f"{name} is empty: give {what}")
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in TRUE or text in FALSE:
            return text in TRUE
        raise SetError(f"{name} is {value!r}: give {what} (for example -e {name}=true)")
    try:
        number = float(value) if kind == "interval" else int(str(value).strip()) if not isinstance(value, int) \
            else value
    except ValueError:
        raise SetError(f"{name} is {value!r}: give {what} (for example -e {name}=900)") from None
    if isinstance(value, bool) or (kind == "interval" and number <= 0) or (low is not None and number < low):
        raise SetError(f"{name} is {value!r}: give {what}")
    return number


def typed_options(values: t.Mapping[str, t.Any], kinds: t.Mapping[str, str], prefix: str) -> dict[str, t.Any]:
    """``values`` (option -> value as the role got it) with each converted to its kind in ``kinds``.

    A value that is not of its kind fails, naming the role variable (``<prefix>_<option>``) and what it
    takes. Kinds: ``seconds``, ``seconds?`` (may be empty), ``count``, ``interval``, ``bool``."""
    unknown = sorted(set(kinds.values()) - set(KINDS))
    if unknown:
        raise SetError(f"unknown kinds {', '.join(unknown)}: one of {', '.join(KINDS)}")
    return {option: _typed(f"{prefix}_{option}", values.get(option), kind) for option, kind in kinds.items()}
