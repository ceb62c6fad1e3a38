"""The small form of ``make chaos`` (20 relationships instead of 200), and its checks on their own."""

from __future__ import annotations

import os
import pathlib
import sys
import typing as t

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from bench import chaos  # noqa: E402  pylint: disable=wrong-import-position
from bench.runner import Bench  # noqa: E402  pylint: disable=wrong-import-position

PHASES = ("setup_1", "setup_2", "failover_1", "failover_2")


def _entry(array: str, seq: int, mutating: bool = False, status: t.Any = 200, injected: bool = False) -> dict[str, t.Any]:
    entry = {"array": array, "vendor": "ontap", "seq": seq, "mutating": mutating, "status": status}
    if injected:
        entry["injected"] = True
    return entry


def _row(item: str, state: str = "snapmirrored", failed: bool = False, msg: str = "") -> dict[str, t.Any]:
    return {"item": item, "state": state, "failed": failed, "msg": msg}


ITEMS = ["svm_b:c001_dr", "svm_b:c002_dr"]


def test_setup_and_failover_survive_faults_and_an_outage(tmp_path: pathlib.Path) -> None:
    result = chaos.run(volumes=20, error_rate=0.03, drop_rate=0.02, down_seconds=3.0, down_after=1.5,
                       transfer_seconds=2.0, results_dir=str(tmp_path))
    for name in PHASES:
        assert sum(row["requests"] for row in result[name]["sent"].values()) > 0, name
        assert result[name]["faults_met"] > 0, name
    assert result["setup_1"]["outage"]["requests_before"] > 0
    assert result["setup_1"]["outage"]["transfers_running"] > 0
    assert result["setup_2"]["rc"] == 0
    assert result["digests_differing"] == 0
    assert result["failover_2"]["rc"] == 0


def test_a_playbook_run_that_sends_nothing_fails_its_phase(tmp_path: pathlib.Path) -> None:
    """The setup of an empty list of sets reaches no array: the phase check says so."""
    with Bench(chaos.topology(2, 2.0), str(tmp_path)) as bench:
        report = os.path.join(bench.workdir, "report.json")
        tuning = {"replication_sets": [], "backend_replication_report_file": report}
        result, seen, rows, _out = chaos.run_phase(bench, "setup", tuning, "chaos-empty", report)
    assert result["rc"] == 0 and rows == [] and seen == {}
    with pytest.raises(AssertionError, match="chaos-empty sent no request to ontap-b: it tested nothing"):
        chaos.check_traffic("chaos-empty", seen, reads_from=(chaos.DR,))
    with pytest.raises(AssertionError, match="chaos-empty sent no request at all"):
        chaos.check_traffic("chaos-empty", seen)


def test_traffic_counts_requests_writes_and_the_faults_that_met_them() -> None:
    seen = chaos.traffic([_entry("ontap-b", 1), _entry("ontap-b", 2, mutating=True, status=503, injected=True),
                          _entry("ontap-b", 3, status="dropped"), _entry("ontap-a", 4, mutating=True),
                          _entry("ontap-a", 5, status="dropped-after"),
                          {"array": "_lab", "vendor": "control", "seq": 6, "mutating": True, "status": 200}])
    assert seen == {"ontap-b": {"requests": 3, "writes": 1, "injected_5xx": 1, "dropped": 1},
                    "ontap-a": {"requests": 2, "writes": 1, "injected_5xx": 0, "dropped": 1}}


def test_a_phase_must_reach_its_arrays_write_where_it_writes_and_meet_a_fault() -> None:
    clean = chaos.traffic([_entry("ontap-b", 1), _entry("ontap-b", 2, mutating=True)])
    with pytest.raises(AssertionError, match="setup sent no request to ontap-a"):
        chaos.check_traffic("setup", clean, reads_from=("ontap-a", "ontap-b"))
    with pytest.raises(AssertionError, match="failover sent no write to ontap-a"):
        chaos.check_traffic("failover", clean, writes_to=("ontap-a",))
    with pytest.raises(AssertionError, match="no injected fault met any of its 2 requests"):
        chaos.check_traffic("setup", clean, reads_from=("ontap-b",), writes_to=("ontap-b",))
    hit = chaos.traffic([_entry("ontap-b", 1, status="dropped"), _entry("ontap-b", 2, mutating=True)])
    chaos.check_traffic("setup", hit, reads_from=("ontap-b",), writes_to=("ontap-b",))


def test_an_outage_that_never_struck_or_met_no_request_fails() -> None:
    class Lab:
        def mark(self) -> int:
            return 10

    outage = chaos.Outage(Lab(), "ontap-b", after=1.0, seconds=3.0)  # type: ignore[arg-type]
    down = [_row(ITEMS[0], failed=True, msg="Transfer failed: array ontap-b is down.")]
    with pytest.raises(AssertionError, match="setup ended before ontap-b went down"):
        outage.check("setup", [_entry("ontap-b", 11)], down)
    outage.mark, outage.active_transfers = 11, 5
    with pytest.raises(AssertionError, match="setup sent nothing to ontap-b before it went down"):
        outage.check("setup", [_entry("ontap-a", 11), _entry("ontap-b", 12)], down)
    with pytest.raises(AssertionError, match="the outage met no request"):
        outage.check("setup", [_entry("ontap-b", 11)], [_row(ITEMS[0])])
    outage.active_transfers = 0
    with pytest.raises(AssertionError, match="no transfer was running"):
        outage.check("setup", [_entry("ontap-b", 11)], down)
    outage.active_transfers = 5
    assert outage.check("setup", [_entry("ontap-b", 11), _entry("ontap-b", 12)], [_row(ITEMS[0])]) == \
        {"requests_before": 1, "requests_after": 1, "transfers_running": 5, "items_failed_for_it": 0}
    assert outage.check("setup", [_entry("ontap-b", 11)], down)["items_failed_for_it"] == 1


@pytest.mark.parametrize("rc, rows, may_fail, match", [
    (0, [_row(ITEMS[0]), _row(ITEMS[1], failed=True, msg="array ontap-b is down")], True, "rc 0 with 1 failed"),
    (2, [_row(ITEMS[0]), _row(ITEMS[1])], True, "rc 2 with 0 failed"),
    (2, [_row(ITEMS[0]), _row(ITEMS[1], failed=True, msg="'NoneType' has no attribute 'get'")], True,
     "no injected fault explains"),
    (2, [_row(ITEMS[0]), _row("", failed=True, msg="cannot reach ontap-b")], True, "without its name"),
    (2, [_row(ITEMS[0]), _row(ITEMS[1], failed=True)], True, "has no reason"),
    (0, [_row(ITEMS[0])], True, r"no report row for \['svm_b:c002_dr'\]"),
    (0, [_row(ITEMS[0]), _row(ITEMS[1], state="paused")], True, "not snapmirrored although they did not fail"),
    (2, [_row(ITEMS[0]), _row(ITEMS[1], failed=True, msg="got no answer")], False, "expected rc 0 and no failed item"),
])
def test_a_phase_outcome_that_is_not_the_expected_one_fails(rc: int, rows: list[dict[str, t.Any]],
                                                            may_fail: bool, match: str) -> None:
    with pytest.raises(AssertionError, match=match):
        chaos.check_outcome("setup", rc, rows, ITEMS, "snapmirrored", may_fail=may_fail)


def test_a_phase_outcome_converged_or_failed_for_a_fault_passes() -> None:
    assert chaos.check_outcome("setup", 0, [_row(ITEMS[0]), _row(ITEMS[1])], ITEMS, "snapmirrored", False) == []
    rows = [_row(ITEMS[0]), _row(ITEMS[1], failed=True, msg="Transfer failed: array ontap-b is down.")]
    assert chaos.check_outcome("setup", 2, rows, ITEMS, "snapmirrored", True) == [ITEMS[1]]
