"""The storage.replication lab: simulated arrays that speak the real wire protocols.

One process serves several arrays on loopback, each on its own port (ONTAP REST,
Hitachi Configuration Manager REST, SMI-S CIM-XML), over one replication fabric
whose volumes hold checksummed blocks. A control API on its own port changes the
world under the arrays (writes, outages, link cuts, injected faults) and exposes
the log of every request they served.

Start it with ``storage-replication-lab up`` (or ``python -m storage_replication_lab
up``; see ``__main__.py``), or ``make lab-up`` in the collection's checkout. The
vendors it simulates are the rows of ``simulators.SIMULATORS``.
"""

from __future__ import annotations
