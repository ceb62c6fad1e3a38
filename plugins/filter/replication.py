# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters the roles use to turn replication sets into module items.

Everything vendor-specific is reached through the registry (plugin_utils/_vendors.py):
the filters of ``_sets`` dispatch on the set's vendor. The ONTAP failback filters work
on SnapMirror relationships only and come from the ONTAP set logic itself.
"""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.storage.replication.plugins.plugin_utils import _ontap_sets as ontap
from ansible_collections.storage.replication.plugins.plugin_utils import _options as options
from ansible_collections.storage.replication.plugins.plugin_utils import _set_base as base
from ansible_collections.storage.replication.plugins.plugin_utils import _sets as sets


def _wrap(func: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
    def call(*args: t.Any, **kwargs: t.Any) -> t.Any:
        try:
            return func(*args, **kwargs)
        except base.SetError as exc:
            raise AnsibleFilterError(str(exc)) from exc
    call.__name__ = func.__name__
    call.__doc__ = func.__doc__
    return call


FILTERS: dict[str, t.Callable[..., t.Any]] = {
    "replication_vendor": sets.vendor_info,
    "replication_options": options.typed_options,
    "replication_connection": sets.array_connection,
    "replication_connections": sets.connections,
    "replication_public_sets": sets.public_sets,
    "replication_array_name": sets.array_names,
    "replication_targets": base.set_targets,
    "replication_set_target_pairs": sets.set_target_pairs,
    "replication_items": sets.items,
    "replication_module_items": base.module_items,
    "replication_waves": base.fence_waves,
    "replication_candidates": sets.candidates,
    "replication_choose_target": sets.choose_target,
    "replication_rpo_violations": sets.rpo_violations,
    "replication_catch_up_items": sets.catch_up_items,
    "replication_caught_up": sets.caught_up,
    "replication_refused_rows": sets.refused_rows,
    "replication_failover_waves": sets.failover_waves,
    "replication_fill_states": sets.fill_states,
    "replication_report_rows": sets.report_rows,
    "replication_missing_rows": sets.missing_rows,
    "replication_failback_rows": sets.failback_rows,
    "replication_report_summary": sets.report_summary,
    "replication_report_lines": sets.report_lines,
    "replication_failback_items": sets.failback_items,
    "replication_status_rows": sets.status_rows,
    "replication_lab_volume_pairs": sets.lab_volume_pairs,
    "replication_test_copies": sets.test_copies,
    "replication_test_copy_rows": sets.test_copy_rows,
    "replication_test_copy_summary": sets.test_copy_summary,
    "replication_test_copy_lines": sets.test_copy_lines,
    "replication_failback_step_items": ontap.failback_step_items,
    "replication_failback_target": ontap.failback_target,
    "replication_failback_remaining": ontap.failback_remaining,
    "replication_stale_reverses": ontap.stale_reverses,
}


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {name: _wrap(func) for name, func in FILTERS.items()}
