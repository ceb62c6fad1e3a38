#!/usr/bin/env bash
# make demo: start a fresh lab, run the DR cycle against it across every vendor it serves,
# print the per-item report, stop the lab. Exits non-zero when anything was lost.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
export LAB_DIR="${DEMO_LAB_DIR:-$PWD/.lab/demo}"
lab() { .venv/bin/storage-replication-lab --dir "$LAB_DIR" "$@"; }
lab down >/dev/null
trap 'lab down >/dev/null' EXIT
lab up || exit 1  # $LAB_TOPOLOGY, else the lab's default topology
echo "== the lab's arrays"
lab status
echo "== DR cycle: setup, writes, planned failover, writes at DR, failback, verify"
.venv/bin/ansible-playbook -i playbooks/inventory/lab.yml playbooks/dr_cycle.yml "$@"
status=$?
if [ "$status" -eq 0 ]; then echo "== demo passed: nothing was lost"; else echo "== demo FAILED (status $status)"; fi
exit "$status"
