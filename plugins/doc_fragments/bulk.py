"""Options of the modules that run many items at once."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  max_workers:
    description:
      - Requests sent at once when the module works on several items. Items that wait for the
        array hold no worker, so hundreds of items can wait together.
    type: int
    default: 10
  continue_on_error:
    description:
      - With V(true), a failing item does not stop the others; the task still fails at the end and
        every item reports its own result.
      - With V(false), the first failure stops the items whose next request has not started; they
        are reported as skipped.
    type: bool
    default: false
"""
