"""replication_options: a role's variables from -e or a survey (strings) typed and checked (a pure function)."""

from __future__ import annotations

import pytest

from ansible_collections.storage.replication.plugins.plugin_utils._options import typed_options
from ansible_collections.storage.replication.plugins.plugin_utils._set_base import SetError

KINDS = {"max_lag": "seconds?", "timeout": "seconds", "workers": "count", "poll": "interval", "mount": "bool"}


def test_strings_become_numbers_and_booleans():
    got = typed_options({"max_lag": "900", "timeout": " 30 ", "workers": "4", "poll": "0.5", "mount": "no"}, KINDS,
                        "failover")
    assert got == {"max_lag": 900, "timeout": 30, "workers": 4, "poll": 0.5, "mount": False}
    assert typed_options({"max_lag": "", "timeout": 0, "workers": 1, "poll": 1, "mount": "TRUE"}, KINDS,
                         "failover") == {"max_lag": None, "timeout": 0, "workers": 1, "poll": 1.0, "mount": True}


@pytest.mark.parametrize("option, value, message", [
    ("max_lag", "soon", "failover_max_lag is 'soon': give a whole number of seconds, 0 or more, or empty"),
    ("timeout", "-5", "failover_timeout is '-5': give a whole number of seconds, 0 or more"),
    ("timeout", None, "failover_timeout is empty"),
    ("workers", "0", "failover_workers is '0': give a whole number, 1 or more"),
    ("poll", "0", "failover_poll is '0': give a number of seconds above 0"),
    ("mount", "maybe", "failover_mount is 'maybe': give true or false"),
    ("timeout", True, "failover_timeout is True"),
])
def test_a_value_of_the_wrong_kind_names_the_variable_and_what_it_takes(option, value, message):
    values = {"max_lag": None, "timeout": 1, "workers": 1, "poll": 1, "mount": True, option: value}
    with pytest.raises(SetError) as refused:
        typed_options(values, KINDS, "failover")
    assert message in str(refused.value)
