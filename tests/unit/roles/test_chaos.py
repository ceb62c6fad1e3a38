"""The small form of ``make chaos``: faults at scale, with 20 relationships instead of 200."""

from __future__ import annotations

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from bench import chaos  # noqa: E402  pylint: disable=wrong-import-position


def test_setup_and_failover_survive_faults_and_an_outage(tmp_path):
    result = chaos.run(volumes=20, error_rate=0.03, drop_rate=0.02, down_seconds=3.0, down_after=1.5,
                       transfer_seconds=2.0,
                       results_dir=str(tmp_path))
    assert result["rerun"]["rc"] == 0
    assert result["digests_differing"] == 0
    assert result["failover"]["unknown_state"] == []
    assert result["failover_rerun"]["broken_off"] == 20
