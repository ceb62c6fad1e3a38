"""``make bench``: the collection at 500 relationships, measured against the lab.

Every figure is a ratio of two measurements taken in the same run:

1. setup of N relationships with the backend_replication role, against one module
   run per relationship in a loop (measured on a sample, projected to N) and against
   the slowest relationship's own initialize transfer (the physical limit);
2. a no-op rerun of the setup: requests sent and wall time;
3. planned and unplanned failover of N relationships against one relationship alone;
4. snapmirror_info over N relationships: requests and time;
5. peak memory of the module processes of (1) and (3);
6. the other vendors: setup, no-op rerun and failover of 100 ShadowImage pairs and of
   100 SMI-S mirrors, each against one pair alone.

Results go to bench/results/latest.json and are printed as a table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import typing as t

from .runner import Bench, summarize_transfers


def topology(args: argparse.Namespace) -> dict[str, t.Any]:
    blocks = int(args.transfer_seconds * args.rate_mib * 16)  # 64 KiB blocks
    other_blocks = int(args.other_copy_seconds * args.rate_mib * 16)
    ontap_common = {"faults": {"latency_ms": args.latency_ms}, "page_size": args.page_size}
    return {
        "lab": {"block_size": "64KiB", "bandwidth": f"{args.volumes * args.rate_mib * 2}MiB",
                "per_transfer_rate": f"{args.rate_mib}MiB", "tick_seconds": 0.1},
        "arrays": {
            "ontap-a": dict(ontap_common, vendor="ontap", aggregates=[{"name": "aggr1_a", "size": "500TiB"}],
                            svms=[{"name": "svm_a", "volumes": [
                                {"name": "bulk{n:03d}", "count": args.volumes, "size": "1GiB",
                                 "data_blocks": blocks, "nas_path": "/bulk{n:03d}"},
                                {"name": "single", "size": "1GiB", "data_blocks": blocks, "nas_path": "/single"},
                                {"name": "loop{n:02d}", "count": args.loop_sample, "size": "1GiB",
                                 "data_blocks": blocks, "nas_path": "/loop{n:02d}"},
                            ]}],
                            peers=[{"cluster": "ontap-b", "svms": [["svm_a", "svm_b"]]}]),
            "ontap-b": dict(ontap_common, vendor="ontap", aggregates=[{"name": "aggr1_b", "size": "500TiB"}],
                            svms=[{"name": "svm_b"}]),
            # the other vendors: N P-VOLs (LDEV 1024...) with empty S-VOLs (LDEV 2048...), and N source
            # volumes (DeviceID 1001...) with empty mirror targets (2001...), plus one of each for the single runs
            "vsp-a": {"vendor": "vsp", "serial": 410001, "faults": {"latency_ms": args.latency_ms},
                      "pools": [{"id": 0, "name": "dp_pool0", "size": "500TiB"}],
                      "ldevs": [{"id_base": 1024, "count": args.other_pairs, "size": "1GiB", "pool": 0,
                                 "data_blocks": other_blocks},
                                {"id_base": 2048, "count": args.other_pairs, "size": "1GiB", "pool": 0},
                                {"id": 4000, "size": "1GiB", "pool": 0, "data_blocks": other_blocks},
                                {"id": 4001, "size": "1GiB", "pool": 0}]},
            "smis-b": {"vendor": "smis", "profile": "generic", "faults": {"latency_ms": args.latency_ms},
                       "volumes": [{"name": "src{n:03d}", "count": args.other_pairs, "id_base": 1001, "size": "1GiB",
                                    "data_blocks": other_blocks},
                                   {"name": "mirror{n:03d}", "count": args.other_pairs, "id_base": 2001,
                                    "size": "1GiB"},
                                   {"name": "one", "id": 3001, "size": "1GiB", "data_blocks": other_blocks},
                                   {"name": "one_mirror", "id": 3002, "size": "1GiB"}]},
        },
        "links": [{"between": ["ontap-a", "ontap-b"]},
                  {"between": ["vsp-a", "vsp-a"], "bandwidth": f"{2 * args.other_pairs * args.rate_mib}MiB",
                   "per_transfer_rate": f"{args.rate_mib}MiB"},
                  {"between": ["smis-b", "smis-b"], "bandwidth": f"{2 * args.other_pairs * args.rate_mib}MiB",
                   "per_transfer_rate": f"{args.rate_mib}MiB"}],
    }


def ontap_set(name: str, volumes: list[str]) -> dict[str, t.Any]:
    return {"name": name, "vendor": "ontap", "source": "ontap-a", "target": "ontap-b", "source_container": "svm_a",
            "target_container": "svm_b", "volumes": volumes, "target_name_suffix": "_dr"}


def vsp_set(name: str, pairs: list[tuple[int, int]]) -> dict[str, t.Any]:
    return {"name": name, "vendor": "vsp", "source": "vsp-a", "target": "vsp-a",
            "volumes": [{"name": p, "target_name": s} for p, s in pairs], "options": {"copy_group": name}}


def smis_set(name: str, pairs: list[tuple[int, int]]) -> dict[str, t.Any]:
    return {"name": name, "vendor": "smis", "source": "smis-b", "target": "smis-b",
            "volumes": [{"name": str(p), "target_name": str(s)} for p, s in pairs],
            "options": {"sync_type": "mirror", "mode": "async"}}


def other_vendors(bench: Bench, args: argparse.Namespace, tuning: dict[str, t.Any]) -> dict[str, t.Any]:
    """Setup, no-op rerun and failover of N ShadowImage pairs and N SMI-S mirrors, each against one alone."""
    n = args.other_pairs
    sets = {"vsp": (vsp_set("vspbulk", [(1024 + i, 2048 + i) for i in range(n)]), vsp_set("vspone", [(4000, 4001)])),
            "smis": (smis_set("smisbulk", [(1001 + i, 2001 + i) for i in range(n)]),
                     smis_set("smisone", [(3001, 3002)]))}
    figures: dict[str, t.Any] = {}
    for vendor, (bulk, one) in sets.items():
        setup_one = bench.playbook("setup", {"replication_sets": [one], **tuning}, f"{vendor}-setup-single")
        setup = bench.playbook("setup", {"replication_sets": [bulk], **tuning}, f"{vendor}-setup-bulk", rss=True)
        noop = bench.playbook("setup", {"replication_sets": [bulk], **tuning}, f"{vendor}-setup-noop")
        fail_one = bench.playbook("failover", {"replication_sets": [one], **tuning}, f"{vendor}-failover-single")
        fail = bench.playbook("failover", {"replication_sets": [bulk], **tuning}, f"{vendor}-failover-bulk", rss=True)
        figures[vendor] = {
            "items": n, "setup_single_seconds": setup_one["seconds"], "setup_bulk_seconds": setup["seconds"],
            "setup_ratio": round(setup["seconds"] / setup_one["seconds"], 2), "setup_requests": setup["requests"],
            "noop_requests": noop["requests"], "noop_mutating_requests": noop["mutating"], "noop_seconds": noop["seconds"],
            "failover_single_seconds": fail_one["seconds"], "failover_bulk_seconds": fail["seconds"],
            "failover_ratio": round(fail["seconds"] / fail_one["seconds"], 2), "failover_requests": fail["requests"],
            "module_peak_mib": max(setup["rss_mib"], fail["rss_mib"]),
        }
    return figures


def run(args: argparse.Namespace) -> dict[str, t.Any]:
    bulk = [f"bulk{n:03d}" for n in range(1, args.volumes + 1)]
    loop = [f"loop{n:02d}" for n in range(1, args.loop_sample + 1)]
    bulk_set, single_set = ontap_set("bulk", bulk), ontap_set("single", ["single"])
    tuning = {"backend_replication_poll_interval": args.poll_interval, "failover_poll_interval": args.poll_interval,
              "backend_replication_max_workers": args.max_workers, "failover_max_workers": args.max_workers,
              "failover_max_lag": 86400, "backend_replication_wait_timeout": 3600}
    results: dict[str, t.Any] = {"topology": {
        "ontap_relationships": args.volumes, "latency_ms_per_request": args.latency_ms,
        "per_transfer_rate_mib_s": args.rate_mib, "data_per_volume_mib": args.transfer_seconds * args.rate_mib,
        "link_bandwidth_mib_s": args.volumes * args.rate_mib * 2, "page_size": args.page_size,
        "max_workers": args.max_workers, "poll_interval": args.poll_interval, "loop_sample": args.loop_sample,
        "machine_cores": os.cpu_count(), "other_vendor_items": args.other_pairs,
        "other_vendor_copy_seconds": args.other_copy_seconds}}
    with Bench(topology(args), args.results) as bench:
        print(f"== lab up: {args.volumes} + 1 + {args.loop_sample} ONTAP volumes, {args.latency_ms} ms per request", flush=True)

        single = bench.playbook("setup", {"replication_sets": [single_set], **tuning}, "setup-single")
        setup = bench.playbook("setup", {"replication_sets": [bulk_set], **tuning}, "setup-bulk", rss=True)
        transfers = summarize_transfers(bench.lab.transfers()["finished"], "snapmirror:initialize", ":bulk")
        noop = bench.playbook("setup", {"replication_sets": [bulk_set], **tuning}, "setup-noop")
        looped = bench.playbook("loop_setup", {"loop_volumes": loop, "loop_poll_interval": args.poll_interval},
                                "setup-loop", bench_dir=True)
        info = bench.playbook("info", {}, "info", bench_dir=True)
        pf_single = bench.playbook("failover", {"replication_sets": [single_set], **tuning}, "failover-planned-single")
        pf_bulk = bench.playbook("failover", {"replication_sets": [bulk_set], **tuning}, "failover-planned-bulk",
                                 rss=True)
        bench.playbook("setup", {"replication_sets": [bulk_set, single_set], "backend_replication_resync_broken": True,
                                 **tuning}, "resync-back")
        bench.lab.down("ontap-a")
        unplanned = dict(tuning, failover_mode="unplanned")
        uf_single = bench.playbook("failover", {"replication_sets": [single_set], **unplanned}, "failover-unplanned-single")
        uf_bulk = bench.playbook("failover", {"replication_sets": [bulk_set], **unplanned}, "failover-unplanned-bulk",
                                 rss=True)
        bench.lab.up("ontap-a")
        if args.other_pairs:
            results["other_vendors"] = other_vendors(bench, args, tuning)

    per_item_loop = looped["seconds"] / max(1, args.loop_sample)
    projected_loop = per_item_loop * args.volumes
    results["setup"] = {
        "bulk_seconds": setup["seconds"], "single_relationship_setup_seconds": single["seconds"],
        "loop_sample_seconds": looped["seconds"], "loop_seconds_per_relationship": round(per_item_loop, 2),
        "loop_projected_seconds": round(projected_loop, 1),
        "speedup_vs_loop": round(projected_loop / setup["seconds"], 1),
        "slowest_initialize_transfer_seconds": transfers["slowest"],
        "mean_initialize_transfer_seconds": transfers["mean"], "initialize_transfers": transfers["count"],
        "ratio_to_slowest_transfer": round(setup["seconds"] / transfers["slowest"], 2) if transfers["slowest"] else None,
        "requests": setup["requests"],
    }
    results["noop_rerun"] = {
        "seconds": noop["seconds"], "requests": noop["requests"], "mutating_requests": noop["mutating"],
        "requests_per_relationship": round(noop["requests"] / args.volumes, 4),
        "ratio_to_setup": round(noop["seconds"] / setup["seconds"], 2),
        "requests_by_path": noop["by_path"],
    }
    results["failover"] = {
        "planned_single_seconds": pf_single["seconds"], "planned_bulk_seconds": pf_bulk["seconds"],
        "planned_ratio": round(pf_bulk["seconds"] / pf_single["seconds"], 2),
        "unplanned_single_seconds": uf_single["seconds"], "unplanned_bulk_seconds": uf_bulk["seconds"],
        "unplanned_ratio": round(uf_bulk["seconds"] / uf_single["seconds"], 2),
        "planned_bulk_requests": pf_bulk["requests"], "unplanned_bulk_requests": uf_bulk["requests"],
        "planned_bulk_requests_by_path": pf_bulk["by_path"], "unplanned_bulk_requests_by_path": uf_bulk["by_path"],
    }
    results["info"] = {"seconds": info["seconds"], "requests": info["requests"], "relationships": args.volumes + 1
                       + args.loop_sample, "pages_of": args.page_size}
    results["memory"] = {"setup_module_peak_mib": setup["rss_mib"], "planned_failover_module_peak_mib": pf_bulk["rss_mib"],
                         "unplanned_failover_module_peak_mib": uf_bulk["rss_mib"]}
    results["targets"] = {
        "setup_at_least_20x_faster_than_loop": results["setup"]["speedup_vs_loop"] >= 20,
        "setup_within_1_5x_of_slowest_transfer": (results["setup"]["ratio_to_slowest_transfer"] or 99) <= 1.5,
        "noop_at_most_one_request_per_relationship": noop["requests"] <= args.volumes and noop["mutating"] == 0,
        "planned_failover_within_2x_of_one": results["failover"]["planned_ratio"] <= 2,
        "unplanned_failover_within_2x_of_one": results["failover"]["unplanned_ratio"] <= 2,
        "info_one_paged_collection_query": info["requests"] <= -(-(args.volumes + 1 + args.loop_sample) // args.page_size)
        if args.page_size else info["requests"] == 1,
    }
    return results


def table(results: dict[str, t.Any]) -> str:
    s, n, f, i, m = (results["setup"], results["noop_rerun"], results["failover"], results["info"], results["memory"])
    topo = results["topology"]
    rows = [
        ("topology", f"{topo['ontap_relationships']} relationships, {topo['latency_ms_per_request']} ms/request, "
                     f"{topo['data_per_volume_mib']} MiB per volume at {topo['per_transfer_rate_mib_s']} MiB/s per "
                     f"transfer, link {topo['link_bandwidth_mib_s']} MiB/s, pages of {topo['page_size']}"),
        ("1 setup, bulk role", f"{s['bulk_seconds']:.1f} s"),
        ("1 setup, loop (projected)", f"{s['loop_projected_seconds']:.0f} s ({s['loop_seconds_per_relationship']:.2f} s x "
                                      f"{topo['ontap_relationships']}, from {topo['loop_sample']} measured)"),
        ("1 speedup bulk vs loop", f"{s['speedup_vs_loop']}x (target >= 20x)"),
        ("1 bulk vs slowest transfer", f"{s['ratio_to_slowest_transfer']}x of {s['slowest_initialize_transfer_seconds']} s "
                                       "(target <= 1.5x)"),
        ("2 no-op rerun", f"{n['requests']} requests ({n['requests_per_relationship']} per relationship, "
                          f"{n['mutating_requests']} mutating), {n['seconds']:.1f} s = {n['ratio_to_setup']}x of setup"),
        ("3 planned failover", f"{f['planned_bulk_seconds']:.1f} s vs {f['planned_single_seconds']:.1f} s for one = "
                               f"{f['planned_ratio']}x (target <= 2x)"),
        ("3 unplanned failover", f"{f['unplanned_bulk_seconds']:.1f} s vs {f['unplanned_single_seconds']:.1f} s for one = "
                                 f"{f['unplanned_ratio']}x (target <= 2x)"),
        ("4 snapmirror_info", f"{i['requests']} requests for {i['relationships']} relationships, {i['seconds']:.1f} s"),
        ("5 module peak memory", f"setup {m['setup_module_peak_mib']} MiB, planned failover "
                                 f"{m['planned_failover_module_peak_mib']} MiB, unplanned {m['unplanned_failover_module_peak_mib']} MiB"),
    ]
    for vendor, o in sorted(results.get("other_vendors", {}).items()):
        label = {"vsp": "ShadowImage pairs", "smis": "SMI-S mirrors"}[vendor]
        setup = (f"{o['items']} {label}: {o['setup_bulk_seconds']:.1f} s vs {o['setup_single_seconds']:.1f} s for one = "
                 f"{o['setup_ratio']}x, {o['setup_requests']} requests")
        noop = f"{o['noop_requests']} requests ({o['noop_mutating_requests']} mutating), {o['noop_seconds']:.1f} s"
        failover = (f"{o['failover_bulk_seconds']:.1f} s vs {o['failover_single_seconds']:.1f} s for one = "
                    f"{o['failover_ratio']}x, {o['failover_requests']} requests; peak {o['module_peak_mib']} MiB")
        rows.extend([(f"6 {vendor} setup", setup), (f"6 {vendor} no-op rerun", noop), (f"6 {vendor} failover", failover)])
    width = max(len(r[0]) for r in rows)
    lines = [f"{name.ljust(width)}  {value}" for name, value in rows]
    lines.append("targets: " + ", ".join(f"{k}={'met' if v else 'NOT met'}" for k, v in results["targets"].items()))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--volumes", type=int, default=500)
    parser.add_argument("--transfer-seconds", type=float, default=20.0, help="initialize time of one relationship")
    parser.add_argument("--rate-mib", type=float, default=2.0, help="per-transfer rate, MiB/s")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--page-size", type=int, default=250)
    parser.add_argument("--loop-sample", type=int, default=10)
    parser.add_argument("--max-workers", type=int, default=64)
    parser.add_argument("--poll-interval", type=float, default=0.5)
    parser.add_argument("--other-pairs", type=int, default=100,
                        help="ShadowImage pairs and SMI-S synchronizations (0 skips the other vendors)")
    parser.add_argument("--other-copy-seconds", type=float, default=5.0, help="initial copy time of one pair")
    parser.add_argument("--results", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = parser.parse_args()
    started = time.monotonic()
    results = run(args)
    results["bench_seconds"] = round(time.monotonic() - started, 1)
    os.makedirs(args.results, exist_ok=True)
    with open(os.path.join(args.results, "latest.json"), "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=2, sort_keys=True)
    print(table(results))
    print(f"results: {os.path.join(args.results, 'latest.json')} ({results['bench_seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
