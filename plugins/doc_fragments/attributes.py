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
