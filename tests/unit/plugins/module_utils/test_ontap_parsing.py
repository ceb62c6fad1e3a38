"""ONTAP value parsing: ISO-8601 durations (days included), timestamps, common snapshots."""

from __future__ import annotations

import pytest

from ansible_collections.storage.replication.plugins.module_utils._ontap import (
    newest_common_snapshot, ontap_error, parse_duration, parse_time, relationship_facts)


@pytest.mark.parametrize("text, seconds", [
    ("PT0S", 0), ("PT3M21S", 201), ("PT8H35M42S", 30942), ("P1DT2H3M4S", 93784), ("P2DT", 172800),
    ("P10D", 864000), ("PT1H", 3600),
])
def test_parse_duration_reads_every_form_ontap_sends(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", [None, "", "P", "PT", "8h", "PT-5S"])
def test_parse_duration_returns_none_for_what_is_not_a_duration(text):
    assert parse_duration(text) is None


def test_parse_time_reads_both_offset_styles():
    assert parse_time("2021-05-25T19:38:55-04:00") == parse_time("2021-05-25T23:38:55+00:00")
    assert parse_time("2020-12-03T02:36:19.000+0000") == parse_time("2020-12-03T02:36:19+00:00")
    assert parse_time("not a time") is None


def test_newest_common_snapshot_picks_the_newest_name_on_both_sides():
    a = [{"name": "s1", "create_time": "2026-01-01T00:00:00+00:00"},
         {"name": "s2", "create_time": "2026-01-02T00:00:00+00:00"},
         {"name": "s3", "create_time": "2026-01-03T00:00:00+00:00"}]
    b = [{"name": "s1"}, {"name": "s2"}]
    assert newest_common_snapshot(a, b) == "s2"
    assert newest_common_snapshot(a, [{"name": "x"}]) is None


def test_ontap_error_reads_message_code_and_target():
    assert ontap_error(400, {"error": {"message": "bad", "code": "262197", "target": "return_timeout"}}) == \
        ("bad (target: return_timeout)", "262197")
    assert ontap_error(502, "<html>gateway</html>") == ("<html>gateway</html>", None)


def test_relationship_facts_normalize_lag_health_and_transfer():
    facts = relationship_facts({
        "uuid": "u", "source": {"path": "a:v"}, "destination": {"path": "b:v"}, "state": "snapmirrored",
        "healthy": False, "unhealthy_reason": [{"code": 13303844, "message": "link down"}],
        "lag_time": "P1DT1S", "policy": {"name": "Asynchronous", "type": "async"},
        "transfer": {"state": "queued", "type": "update"},
    })
    assert facts["lag_seconds"] == 86401
    assert facts["transferring"] is True
    assert facts["unhealthy_reasons"] == [{"code": "13303844", "message": "link down"}]
    assert (facts["source_svm"], facts["destination_volume"]) == ("a", "v")
