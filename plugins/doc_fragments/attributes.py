"""Attributes shared by the collection's modules."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: In check mode the module reads the arrays, plans, and reports what it would change, without
      sending any request that changes anything.
  diff_mode:
    description: With C(--diff) the module returns the before and after state of what it manages.
"""

    ACTIONGROUP_ONTAP = r"""
options: {}
attributes:
  action_group:
    description: Set the connection options once for all modules of the group with
      C(module_defaults) and C(group/storage.replication.ontap).
    support: full
    membership:
      - storage.replication.ontap
"""

    ACTIONGROUP_VSP = r"""
options: {}
attributes:
  action_group:
    description: Set the connection options once for all modules of the group with
      C(module_defaults) and C(group/storage.replication.vsp).
    support: full
    membership:
      - storage.replication.vsp
"""

    ACTIONGROUP_SMIS = r"""
options: {}
attributes:
  action_group:
    description: Set the connection options once for all modules of the group with
      C(module_defaults) and C(group/storage.replication.smis).
    support: full
    membership:
      - storage.replication.smis
"""

    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details: The module only reads.
  diff_mode:
    support: N/A
    details: The module only reads.
"""
