"""``make chaos``: faults at scale.

Four phases against a primary and a DR ONTAP cluster, each under injected faults: a share of
requests answered 503 and a share of connections dropped (random, seeded), plus one sure 503
and one sure dropped connection armed on each cluster when the phase starts, so that a small
run cannot miss them by chance.

1. setup-1: N relationships are created while the DR cluster goes down for a while, once the
   run has started writing to it (so the outage strikes while the initial transfers run). The
   run ends with rc 0 and every item snapmirrored, or with rc != 0 and every failed item named
   with its reason (the array's answer or the lost connection); the other items snapmirrored.
2. setup-2: a rerun under the same faults converges: rc 0, every item snapmirrored, and every
   replica's digest equals its source's (no data lost).
3. failover-1: a planned failover under the same faults leaves no item in an unknown state:
   rc 0 and every item broken_off, or failed items named with their reason and the others
   broken_off.
4. failover-2: with the random faults cleared and one sure 503 left, the rerun retries it and
   completes: rc 0, every item broken_off.

Every phase proves from the lab's request log that it sent requests to the arrays it works on
and that injected faults met some of them: a phase that sent nothing or met no fault fails
(it tested nothing). ``make test`` runs a small form of it (tests/unit/roles/test_chaos.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import typing as t

from storage_replication_lab.client import LabClient

from .runner import Bench

PRIMARY, DR = "ontap-a", "ontap-b"
DROPPED = ("dropped", "dropped-after")
# what a failed item's reason says when a fault (not a bug) made it fail: the array's own answer to an
# injected 5xx, a write that got no answer, an array that could not be reached, a transfer the outage broke
FAULT_REASONS = ("(injected)", "[HTTP 503]", "got no answer", "cannot reach", "Connection", "timed out", "is down")
OUTAGE_REASONS = ("is down", "cannot reach", "got no answer", "Connection")


def topology(volumes: int, transfer_seconds: float) -> dict[str, t.Any]:
    # 32 blocks of 64 KiB per volume: each initialize transfer takes transfer_seconds, so the outage
    # strikes while transfers run
    rate_kib = int(2048 / transfer_seconds)
    return {
        "lab": {"block_size": "64KiB", "bandwidth": "4GiB", "per_transfer_rate": f"{rate_kib}KiB"},
        "arrays": {
            PRIMARY: {"vendor": "ontap", "aggregates": [{"name": "aggr1_a", "size": "100TiB"}],
                      "svms": [{"name": "svm_a", "volumes": [{"name": "c{n:03d}", "count": volumes, "size": "256MiB",
                                                              "data_blocks": 32, "nas_path": "/c{n:03d}"}]}],
                      "peers": [{"cluster": DR, "svms": [["svm_a", "svm_b"]]}]},
            DR: {"vendor": "ontap", "aggregates": [{"name": "aggr1_b", "size": "100TiB"}],
                 "svms": [{"name": "svm_b"}]},
        },
        "links": [{"between": [PRIMARY, DR]}],
    }


# what a phase sent and met, from the lab's request log -------------------------------------------
def traffic(entries: list[dict[str, t.Any]]) -> dict[str, dict[str, int]]:
    """Per array: requests the arrays saw, writes among them, injected 5xx answers and dropped connections."""
    seen: dict[str, dict[str, int]] = {}
    for entry in entries:
        if entry.get("vendor") == "control":
            continue
        row = seen.setdefault(entry["array"], {"requests": 0, "writes": 0, "injected_5xx": 0, "dropped": 0})
        row["requests"] += 1
        row["writes"] += 1 if entry.get("mutating") else 0
        row["injected_5xx"] += 1 if entry.get("injected") else 0
        row["dropped"] += 1 if entry.get("status") in DROPPED else 0
    return seen


def check_traffic(phase: str, seen: dict[str, dict[str, int]], reads_from: t.Iterable[str] = (),
                  writes_to: t.Iterable[str] = ()) -> None:
    """Fail unless the phase sent requests to ``reads_from``, writes to ``writes_to``, and met a fault."""
    empty = {"requests": 0, "writes": 0, "injected_5xx": 0, "dropped": 0}
    for array in reads_from:
        assert seen.get(array, empty)["requests"] > 0, \
            f"{phase} sent no request to {array}: it tested nothing (requests per array: {_sent(seen)})"
    for array in writes_to:
        assert seen.get(array, empty)["writes"] > 0, \
            f"{phase} sent no write to {array}: it changed nothing under faults (requests per array: {_sent(seen)})"
    total = sum(row["requests"] for row in seen.values())
    met = sum(row["injected_5xx"] + row["dropped"] for row in seen.values())
    assert total > 0, f"{phase} sent no request at all: it tested nothing"
    assert met > 0, f"{phase}: no injected fault met any of its {total} requests (no 503, no dropped connection): " \
                    "it tested nothing under faults"


def _sent(seen: dict[str, dict[str, int]]) -> dict[str, int]:
    return {array: row["requests"] for array, row in sorted(seen.items())}


# what a phase ended with, from its report -----------------------------------------------------------
def check_outcome(phase: str, rc: int, rows: list[dict[str, t.Any]], items: list[str], state: str,
                  may_fail: bool) -> list[str]:
    """Assert the phase's outcome; return the failed items.

    Every item has a row; ``rc`` is 0 exactly when no item failed; a failed item is named, with a
    reason that is a fault's (see ``FAULT_REASONS``); every other item is in ``state``. Unless
    ``may_fail``, no item may fail.
    """
    failed = [row for row in rows if row.get("failed")]
    names = [row.get("item") for row in failed]
    assert all(names), f"{phase}: a failed item was reported without its name: {[r.get('msg') for r in failed]}"
    assert all(row.get("msg") for row in failed), f"{phase}: a failed item has no reason: {names}"
    if not may_fail:
        assert rc == 0 and not failed, \
            f"{phase}: expected rc 0 and no failed item, got rc {rc} and {len(failed)} failed: " \
            f"{[(row.get('item'), row.get('msg')) for row in failed[:5]]}"
    assert (rc == 0) == (not failed), f"{phase}: rc {rc} with {len(failed)} failed item(s): {names[:10]}"
    odd = [(row["item"], row["msg"]) for row in failed if not any(r in str(row["msg"]) for r in FAULT_REASONS)]
    assert not odd, f"{phase}: items failed for a reason no injected fault explains: {odd[:5]}"
    reported = {row.get("item") for row in rows}
    missing = [item for item in items if item not in reported]
    assert not missing, f"{phase}: no report row for {missing[:10]}"
    wrong = [(row["item"], row.get("state")) for row in rows if not row.get("failed") and row.get("state") != state]
    assert not wrong, f"{phase}: items not {state} although they did not fail: {wrong[:10]}"
    return [str(name) for name in names]


# running a phase -------------------------------------------------------------------------------------
def arm(lab: LabClient, arrays: t.Iterable[str]) -> None:
    """One sure dropped connection and one sure 503 for the next requests to each array."""
    for array in arrays:
        lab.faults(array, drop_count=1, error_count=1)


def run_phase(bench: Bench, playbook: str, extra: dict[str, t.Any], label: str,
              report: str) -> tuple[dict[str, t.Any], dict[str, dict[str, int]], list[dict[str, t.Any]], int]:
    """Run one playbook; return its result, what it sent and met, its report rows and the log mark before it."""
    if os.path.exists(report):
        os.remove(report)  # a run that writes no report must not be judged by the previous run's
    mark = bench.lab.mark()
    result = bench.playbook(playbook, extra, label, allow_failure=True)
    seen = traffic(bench.lab.log(since=mark))
    log = os.path.join(bench.results_dir, f"{label}.log")
    assert os.path.exists(report), f"{label}: the role wrote no report (rc {result['rc']}); see {log}"
    with open(report, encoding="utf-8") as handle:
        rows = json.load(handle)["rows"]
    return result, seen, rows, mark


def figures(result: dict[str, t.Any], seen: dict[str, dict[str, int]], failed: list[str]) -> dict[str, t.Any]:
    return {"seconds": result["seconds"], "rc": result["rc"], "sent": seen,
            "faults_met": sum(row["injected_5xx"] + row["dropped"] for row in seen.values()),
            "failed_items": len(failed), "failed_names": failed[:20]}


class Outage(threading.Thread):
    """Takes ``array`` down for ``seconds``, ``after`` seconds after the run's first write to it."""

    def __init__(self, lab: LabClient, array: str, after: float, seconds: float) -> None:
        super().__init__(daemon=True)
        self.lab, self.array, self.after, self.seconds = lab, array, after, seconds
        self.since = lab.mark()
        self.done = threading.Event()
        self.lock = threading.Lock()  # held while going down, so that stop() waits for it or prevents it
        self.mark: int | None = None  # the log position when the array went down
        self.ends = 0.0  # time.monotonic() when it is back
        self.active_transfers = 0
        self.error = ""

    def run(self) -> None:
        try:
            self._strike()
        except Exception as exc:  # pylint: disable=broad-except  # reported by check()
            self.error = repr(exc)

    def _strike(self) -> None:
        seen = self.since
        while True:
            now = self.lab.mark()
            if self.lab.log(array=self.array, mutating=True, since=seen):
                break
            seen = now
            if self.done.wait(0.05):
                return
        if self.done.wait(self.after):
            return
        with self.lock:
            if self.done.is_set():
                return
            self.active_transfers = len(self.lab.transfers(since_id=10**12)["active"])
            self.mark = self.lab.mark()
            self.lab.down(self.array, duration=self.seconds)
            self.ends = time.monotonic() + self.seconds

    def stop(self) -> None:
        with self.lock:
            self.done.set()
        self.join(30)

    def check(self, phase_name: str, entries: list[dict[str, t.Any]], rows: list[dict[str, t.Any]]) -> dict[str, t.Any]:
        """Fail unless the outage struck while the run worked with the array and met it; return its figures.

        Met it: the run came back to the array after it went down, or items failed for the outage.
        """
        assert self.mark is not None, f"{phase_name} ended before {self.array} went down: the outage tested nothing" \
            + (f" (the outage failed: {self.error})" if self.error else "")
        before = sum(1 for e in entries if e["array"] == self.array and e["seq"] <= self.mark)
        after = sum(1 for e in entries if e["array"] == self.array and e["seq"] > self.mark)
        assert before > 0, f"{phase_name} sent nothing to {self.array} before it went down: the outage tested nothing"
        assert self.active_transfers > 0, f"no transfer was running when {self.array} went down: the outage tested nothing"
        hit = sum(1 for row in rows if row.get("failed") and any(r in str(row.get("msg")) for r in OUTAGE_REASONS))
        assert after > 0 or hit > 0, f"{phase_name} neither came back to {self.array} after its outage nor had an " \
                                     "item fail for it: the outage met no request"
        return {"requests_before": before, "requests_after": after, "transfers_running": self.active_transfers,
                "items_failed_for_it": hit}


def run(volumes: int = 200, error_rate: float = 0.02, drop_rate: float = 0.01, down_seconds: float = 10.0,
        down_after: float = 3.0, seed: int = 7, results_dir: str | None = None,
        transfer_seconds: float = 4.0) -> dict[str, t.Any]:
    """Run the four phases; raise AssertionError when one sent nothing, met no fault or ended wrongly.

    ``down_after`` counts from the setup's first write to the DR cluster; keep it below ``transfer_seconds``.
    """
    results_dir = results_dir or os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "chaos")
    names = [f"c{n:03d}" for n in range(1, volumes + 1)]
    replicas = [f"svm_b:{name}_dr" for name in names]
    rset = {"name": "chaos", "vendor": "ontap", "source": PRIMARY, "target": DR, "source_container": "svm_a",
            "target_container": "svm_b", "volumes": names, "target_name_suffix": "_dr"}
    out: dict[str, t.Any] = {"relationships": volumes, "error_rate": error_rate, "drop_rate": drop_rate,
                             "dr_down_seconds": down_seconds, "dr_down_after_first_write_seconds": down_after,
                             "initialize_transfer_seconds": transfer_seconds}
    with Bench(topology(volumes, transfer_seconds), results_dir) as bench:
        lab = bench.lab
        for offset, array in enumerate((PRIMARY, DR)):
            lab.faults(array, error_rate=error_rate, drop_rate=drop_rate, seed=seed + offset)
        report = os.path.join(bench.workdir, "setup-report.json")
        tuning = {"replication_sets": [rset], "backend_replication_poll_interval": 0.2,
                  "backend_replication_max_workers": 16, "backend_replication_report_file": report,
                  "backend_replication_wait_timeout": 120}

        arm(lab, (PRIMARY, DR))
        outage = Outage(lab, DR, down_after, down_seconds)
        outage.start()
        try:
            first, seen, rows, mark = run_phase(bench, "setup", tuning, "chaos-setup-1", report)
        finally:
            outage.stop()
        check_traffic("chaos-setup-1", seen, reads_from=(PRIMARY, DR), writes_to=(DR,))
        met_outage = outage.check("chaos-setup-1", lab.log(array=DR, since=mark), rows)
        out["setup_1"] = figures(first, seen, check_outcome("chaos-setup-1", first["rc"], rows, replicas,
                                                            "snapmirrored", may_fail=True))
        out["setup_1"]["outage"] = met_outage
        time.sleep(max(0.0, outage.ends - time.monotonic()) + 0.5)

        arm(lab, (PRIMARY, DR))
        second, seen, rows, _out = run_phase(bench, "setup", tuning, "chaos-setup-2", report)
        check_traffic("chaos-setup-2", seen, reads_from=(DR,))
        out["setup_2"] = figures(second, seen, check_outcome("chaos-setup-2", second["rc"], rows, replicas,
                                                             "snapmirrored", may_fail=False))
        lost = [n for n in names if lab.digest(PRIMARY, f"svm_a:{n}") != lab.digest(DR, f"svm_b:{n}_dr")]
        out["digests_differing"] = len(lost)
        assert not lost, f"replicas differ from their sources: {lost[:10]}"

        fo_report = os.path.join(bench.workdir, "failover-report.json")
        fo_vars = {"replication_sets": [rset], "failover_poll_interval": 0.2, "failover_max_workers": 16,
                   "failover_report_file": fo_report, "failover_max_lag": 86400, "failover_wait_timeout": 120}
        arm(lab, (PRIMARY, DR))
        failover, seen, rows, _out = run_phase(bench, "failover", fo_vars, "chaos-failover-1", fo_report)
        check_traffic("chaos-failover-1", seen, reads_from=(DR,), writes_to=(DR,))
        unknown = [r.get("item") for r in rows if r.get("state") in (None, "", "unknown")]
        assert not unknown, f"chaos-failover-1: items in an unknown state after the failover: {unknown[:10]}"
        out["failover_1"] = figures(failover, seen, check_outcome("chaos-failover-1", failover["rc"], rows,
                                                                  replicas, "broken_off", may_fail=True))

        for array in (PRIMARY, DR):
            lab.clear_faults(array)
        lab.faults(DR, error_count=1)
        again, seen, rows, _out = run_phase(bench, "failover", fo_vars, "chaos-failover-2", fo_report)
        check_traffic("chaos-failover-2", seen, reads_from=(DR,))
        out["failover_2"] = figures(again, seen, check_outcome("chaos-failover-2", again["rc"], rows, replicas,
                                                               "broken_off", may_fail=False))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--volumes", type=int, default=200)
    parser.add_argument("--error-rate", type=float, default=0.02)
    parser.add_argument("--drop-rate", type=float, default=0.01)
    parser.add_argument("--down-seconds", type=float, default=10.0)
    parser.add_argument("--down-after", type=float, default=3.0,
                        help="seconds from the setup's first write to the DR cluster to its outage")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    result = run(args.volumes, args.error_rate, args.drop_rate, args.down_seconds, args.down_after, seed=args.seed)
    print(json.dumps(result, indent=2))
    target = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "chaos.json")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
