# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters the roles use to turn replication sets into module items."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.storage.replication.plugins.module_utils._sets import (
    SetError, array_connection, candidates, choose_target, failback_items, failback_remaining, failback_step_items,
    failback_target, fence_waves, fill_states, items, lab_volume_pairs, module_items, report_lines, report_rows, report_summary,
    rpo_violations, set_target_pairs, set_targets, stale_reverses, status_rows)


def _wrap(func):  # type: ignore[no-untyped-def]
    def call(*args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return func(*args, **kwargs)
        except SetError as exc:
            raise AnsibleFilterError(str(exc)) from exc
    call.__name__ = func.__name__
    call.__doc__ = func.__doc__
    return call


class FilterModule:
    def filters(self):  # type: ignore[no-untyped-def]
        return {
            "replication_connection": _wrap(array_connection),
            "replication_targets": _wrap(set_targets),
            "replication_set_target_pairs": _wrap(set_target_pairs),
            "replication_items": _wrap(items),
            "replication_module_items": _wrap(module_items),
            "replication_waves": _wrap(fence_waves),
            "replication_candidates": _wrap(candidates),
            "replication_choose_target": _wrap(choose_target),
            "replication_rpo_violations": _wrap(rpo_violations),
            "replication_fill_states": _wrap(fill_states),
            "replication_report_rows": _wrap(report_rows),
            "replication_report_summary": _wrap(report_summary),
            "replication_report_lines": _wrap(report_lines),
            "replication_failback_items": _wrap(failback_items),
            "replication_failback_step_items": _wrap(failback_step_items),
            "replication_failback_target": _wrap(failback_target),
            "replication_failback_remaining": _wrap(failback_remaining),
            "replication_stale_reverses": _wrap(stale_reverses),
            "replication_status_rows": _wrap(status_rows),
            "replication_lab_volume_pairs": _wrap(lab_volume_pairs),
        }
