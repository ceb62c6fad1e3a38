# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters the roles use to turn replication sets into module items."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.storage.replication.plugins.module_utils._sets import (
    SetError, array_connection, choose_target, failback_remaining, failback_step_items, failback_target, fill_states,
    fence_waves, lab_volume_pairs, module_items, ontap_candidates, ontap_failback_items, ontap_items, report_rows,
    report_summary, rpo_violations, set_target_pairs, set_targets, stale_reverses, status_rows, vsp_candidates, vsp_failback_items, vsp_items)


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
            "replication_waves": _wrap(fence_waves),
            "replication_module_items": _wrap(module_items),
            "replication_report_rows": _wrap(report_rows),
            "replication_choose_target": _wrap(choose_target),
            "replication_ontap_candidates": _wrap(ontap_candidates),
            "replication_rpo_violations": _wrap(rpo_violations),
            "replication_report_summary": _wrap(report_summary),
            "replication_ontap_items": _wrap(ontap_items),
            "replication_failback_remaining": _wrap(failback_remaining),
            "replication_ontap_failback_items": _wrap(ontap_failback_items),
            "replication_failback_step_items": _wrap(failback_step_items),
            "replication_failback_target": _wrap(failback_target),
            "replication_stale_reverses": _wrap(stale_reverses),
            "replication_lab_volume_pairs": _wrap(lab_volume_pairs),
            "replication_status_rows": _wrap(status_rows),
            "replication_fill_states": _wrap(fill_states),
            "replication_vsp_items": _wrap(vsp_items),
            "replication_vsp_candidates": _wrap(vsp_candidates),
            "replication_vsp_failback_items": _wrap(vsp_failback_items),
        }
