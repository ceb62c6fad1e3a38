#!/usr/bin/env bash
# make demo: start a fresh lab, run the DR cycle against it across every vendor it serves,
# print the per-item report, stop the lab. Exits non-zero when anything was lost.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
export LAB_DIR="${DEMO_LAB_DIR:-$PWD/.lab/demo}"
lab() { PYTHONPATH="$PWD/tests" .venv/bin/python -m lab --dir "$LAB_DIR" "$@"; }
lab down >/dev/null
trap 'lab down >/dev/null' EXIT
lab up --topology "${LAB_TOPOLOGY:-$PWD/tests/lab/topologies/default.yml}" || exit 1
echo "== the lab's arrays"
lab status
echo "== DR cycle: setup, writes, planned failover, writes at DR, failback, verify"
.venv/bin/ansible-playbook -i playbooks/inventory/lab.yml playbooks/dr_cycle.yml "$@"
status=$?
if [ "$status" -eq 0 ]; then echo "== demo passed: nothing was lost"; else echo "== demo FAILED (status $status)"; fi
exit "$status"
