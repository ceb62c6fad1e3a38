"""``make chaos``: faults at scale.

With a share of requests answered 503, a share of connections dropped and the DR
cluster down for a while in the middle of the setup:

- the setup of N relationships converges after at most one rerun;
- the first run reports every failed item by name;
- no data is lost (every replica's digest equals its source's);
- a planned failover under the same faults leaves no item in an unknown state,
  and a rerun completes it.

``make test`` runs a small form of it (tests/unit/roles/test_chaos.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import typing as t

from .runner import Bench


def topology(volumes: int, transfer_seconds: float) -> dict[str, t.Any]:
    # 32 blocks of 64 KiB per volume: each initialize transfer takes transfer_seconds, so the outage
    # strikes while transfers run
    rate_kib = int(2048 / transfer_seconds)
    return {
        "lab": {"block_size": "64KiB", "bandwidth": "4GiB", "per_transfer_rate": f"{rate_kib}KiB"},
        "arrays": {
            "ontap-a": {"vendor": "ontap", "aggregates": [{"name": "aggr1_a", "size": "100TiB"}],
                        "svms": [{"name": "svm_a", "volumes": [{"name": "c{n:03d}", "count": volumes, "size": "256MiB",
                                                                "data_blocks": 32, "nas_path": "/c{n:03d}"}]}],
                        "peers": [{"cluster": "ontap-b", "svms": [["svm_a", "svm_b"]]}]},
            "ontap-b": {"vendor": "ontap", "aggregates": [{"name": "aggr1_b", "size": "100TiB"}],
                        "svms": [{"name": "svm_b"}]},
        },
        "links": [{"between": ["ontap-a", "ontap-b"]}],
    }


def _report(path: str) -> dict[str, t.Any]:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def run(volumes: int = 200, error_rate: float = 0.02, drop_rate: float = 0.01, down_seconds: float = 10.0,
        down_after: float = 3.0, seed: int = 7, results_dir: str | None = None,
        transfer_seconds: float = 4.0) -> dict[str, t.Any]:
    """Run the fault scenario; raise AssertionError when an invariant does not hold."""
    results_dir = results_dir or os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "chaos")
    names = [f"c{n:03d}" for n in range(1, volumes + 1)]
    rset = {"name": "chaos", "vendor": "ontap", "source": "ontap-a", "target": "ontap-b", "source_container": "svm_a",
            "target_container": "svm_b", "volumes": names, "target_name_suffix": "_dr"}
    out: dict[str, t.Any] = {"relationships": volumes, "error_rate": error_rate, "drop_rate": drop_rate,
                             "dr_down_seconds": down_seconds, "dr_down_after_seconds": down_after,
                             "initialize_transfer_seconds": transfer_seconds}
    with Bench(topology(volumes, transfer_seconds), results_dir) as bench:
        for array in ("ontap-a", "ontap-b"):
            bench.lab.faults(array, error_rate=error_rate, drop_rate=drop_rate, seed=seed)
        report = os.path.join(bench.workdir, "setup-report.json")
        tuning = {"replication_sets": [rset], "backend_replication_poll_interval": 0.2,
                  "backend_replication_max_workers": 16, "backend_replication_report_file": report,
                  "backend_replication_wait_timeout": 120}
        outage = threading.Timer(down_after, lambda: bench.lab.down("ontap-b", duration=down_seconds))
        outage.start()
        first = bench.playbook("setup", tuning, "chaos-setup-1", allow_failure=True)
        outage.cancel()
        first_report = _report(report)
        failed = [row["item"] for row in first_report["rows"] if row.get("failed")]
        out["first_run"] = {"seconds": first["seconds"], "failed_items": len(failed), "rc": first["rc"]}
        assert first["seconds"] > down_after, "the setup ended before the DR cluster went down: it tested nothing"
        assert first["rc"] == 0 or failed, "the first run failed without naming a failed item"
        assert all(name for name in failed), "a failed item was reported without its name"
        assert all(row["msg"] for row in first_report["rows"] if row.get("failed")), "a failed item has no reason"
        time.sleep(max(0.0, down_after + down_seconds - first["seconds"]) + 0.5)
        second = bench.playbook("setup", tuning, "chaos-setup-2", allow_failure=True)
        second_report = _report(report)
        out["rerun"] = {"seconds": second["seconds"], "rc": second["rc"],
                        "failed_items": [r["item"] for r in second_report["rows"] if r.get("failed")]}
        assert second["rc"] == 0, f"setup did not converge after one rerun: {out['rerun']['failed_items']}"
        lost = [n for n in names if bench.lab.digest("ontap-a", f"svm_a:{n}") != bench.lab.digest("ontap-b", f"svm_b:{n}_dr")]
        out["digests_differing"] = len(lost)
        assert not lost, f"replicas differ from their sources: {lost[:10]}"

        fo_report = os.path.join(bench.workdir, "failover-report.json")
        fo_vars = {"replication_sets": [rset], "failover_poll_interval": 0.2, "failover_max_workers": 16,
                   "failover_report_file": fo_report, "failover_max_lag": 86400, "failover_wait_timeout": 120}
        failover = bench.playbook("failover", fo_vars, "chaos-failover-1", allow_failure=True)
        rows = _report(fo_report)["rows"]
        unknown = [r["item"] for r in rows if r.get("state") in (None, "", "unknown")]
        out["failover"] = {"seconds": failover["seconds"], "rc": failover["rc"],
                           "failed_items": sum(1 for r in rows if r.get("failed")), "unknown_state": unknown}
        assert not unknown, f"items in an unknown state after the failover: {unknown}"
        for array in ("ontap-a", "ontap-b"):
            bench.lab.clear_faults(array)
        again = bench.playbook("failover", fo_vars, "chaos-failover-2", allow_failure=True)
        final = _report(fo_report)["rows"]
        out["failover_rerun"] = {"seconds": again["seconds"], "rc": again["rc"],
                                 "broken_off": sum(1 for r in final if r.get("state") == "broken_off")}
        assert again["rc"] == 0 and out["failover_rerun"]["broken_off"] == volumes, out["failover_rerun"]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--volumes", type=int, default=200)
    parser.add_argument("--error-rate", type=float, default=0.02)
    parser.add_argument("--drop-rate", type=float, default=0.01)
    parser.add_argument("--down-seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    result = run(args.volumes, args.error_rate, args.drop_rate, args.down_seconds, seed=args.seed)
    print(json.dumps(result, indent=2))
    target = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "chaos.json")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
