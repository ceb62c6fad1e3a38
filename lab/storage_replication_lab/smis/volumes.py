"""Deleting volumes: ``StorageConfigurationService.ReturnToStoragePool`` (DMTF CIM schema, Block Services).

Real providers delete a volume with ``CIM_StorageConfigurationService.ReturnToStoragePool(TheElement, OUT
Job)`` (DMTF CIM Schema 2.49, the schema the SMI-S fact sheet's [D] entries come from; SNIA SMI-S Block
Services package). The lab's own CIM subset (``mof/cim.mof``) lacked the method, so nothing could remove a
detached clone. The lab adds it:

- the method declaration in ``CIM_StorageConfigurationService`` (``mof/cim.mof``), and the
  ``LAB_StorageConfigurationService`` class of the ``generic`` profile (``mof/lab.mof``);
- the handler (``return_to_storage_pool``): TheElement must be a volume of this system (else
  CIM_ERR_NOT_FOUND; NULL -> rc 5 Invalid Parameter); a volume that takes part in a synchronization (source
  or target) is refused, nothing changes (rc 6 In Use; ``3par``, whose rc set is 0/1/4/5/4096: rc 4
  Failed); otherwise the volume and its data are gone at once: rc 0, no job.

The ``3par`` profile has its StorageConfigurationService anyway. A ``generic`` array serves one (with
ReturnToStoragePool only, no legacy Copy Services methods and no StorageReplicationCapabilities) when its
topology sets ``block_services: true``; by default it has none, as before.
"""

from __future__ import annotations

import typing as t

from .model import RC_FAILED, RC_IN_USE, RC_INVALID, RC_OK

if t.TYPE_CHECKING:  # pragma: no cover
    from .engine import Engine, Out, Result
    from .model import Service


def return_to_storage_pool(engine: Engine, _service: Service, params: Out) -> Result:
    """Delete a volume that takes part in no synchronization (rc 0, no job)."""
    if params.get("TheElement") is None:
        return RC_INVALID, {}
    vol = engine.volume_or_fault(params["TheElement"], "TheElement")
    if engine.participates(vol):
        return (RC_FAILED if engine.profile == "3par" else RC_IN_USE), {}
    engine.array.delete_volume(vol)
    return RC_OK, {}
