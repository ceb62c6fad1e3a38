"""Someone else at the ONTAP console while a snapmirror task runs: what the wait and rerun tests share.

``Console`` talks to a lab cluster's REST API the way an administrator's script would; ``when_logged``
runs such an intervention on a thread as soon as the module's own request shows in the lab's log.
"""

from __future__ import annotations

import threading
import typing as t


class Console:
    """An administrator's REST calls to one lab cluster (each waits for its job)."""

    def __init__(self, lab: t.Any, array: str = "ontap-b") -> None:
        self.lab = lab
        self.array = array
        self.http = lab.session(array)

    def request(self, method: str, path: str, body: dict[str, t.Any] | None = None,
                params: dict[str, t.Any] | None = None) -> t.Any:
        query = dict(params or {})
        if method != "GET":
            query["return_timeout"] = 30
        reply = self.http.request(method, self.lab.url(self.array, "/api" + path), json=body, params=query,
                                  timeout=60)
        assert reply.status_code < 300, f"{method} {path}: {reply.status_code} {reply.text}"
        return reply.json() if reply.content else None

    def relationship(self, destination: str) -> dict[str, t.Any]:
        records = self.request("GET", "/snapmirror/relationships",
                               params={"destination.path": destination, "fields": "uuid,state,transfer"})["records"]
        assert len(records) == 1, records
        return t.cast("dict[str, t.Any]", records[0])

    def update(self, destination: str) -> None:
        self.request("POST", f"/snapmirror/relationships/{self.relationship(destination)['uuid']}/transfers", {})

    def abort(self, destination: str) -> None:
        found = self.relationship(destination)
        transfer = (found.get("transfer") or {}).get("uuid")
        assert transfer, f"no transfer runs on {destination}: {found}"
        self.request("PATCH", f"/snapmirror/relationships/{found['uuid']}/transfers/{transfer}", {"state": "aborted"})

    def set_state(self, destination: str, state: str) -> None:
        self.request("PATCH", f"/snapmirror/relationships/{self.relationship(destination)['uuid']}", {"state": state})

    def wait_transferring(self, destination: str) -> None:
        self.lab.wait_for(lambda: (self.relationship(destination).get("transfer") or {}).get("state") == "transferring",
                          timeout=30)


def two_clusters(lab: dict[str, t.Any] | None = None, **more_arrays: t.Any) -> dict[str, t.Any]:
    """ontap-a (vol1-vol4, 256 MiB, 8 blocks of data each) peered with an empty ontap-b, and ``more_arrays``."""
    arrays = {
        "ontap-a": {
            "vendor": "ontap",
            "aggregates": [{"name": "aggr1_a", "size": "100TiB"}],
            "svms": [{"name": "svm_a", "volumes": [
                {"name": "vol{n}", "count": 4, "size": "256MiB", "data_blocks": 8, "nas_path": "/vol{n}"}]}],
            "peers": [{"cluster": "ontap-b", "svms": [["svm_a", "svm_b"]]}],
        },
        "ontap-b": {"vendor": "ontap", "aggregates": [{"name": "aggr1_b", "size": "100TiB"}],
                    "svms": [{"name": "svm_b"}]},
    }
    arrays.update(more_arrays)
    return {"lab": dict({"block_size": "64KiB", "bandwidth": "4GiB", "per_transfer_rate": "256MiB"}, **(lab or {})),
            "arrays": arrays}


def when_logged(lab: t.Any, array: str, match: t.Callable[[dict[str, t.Any]], bool],
                act: t.Callable[[], None]) -> threading.Thread:
    """Run ``act`` on a thread as soon as a mutating request to ``array`` matching ``match`` is logged (from now
    on); the thread keeps what went wrong in its ``error`` attribute."""
    mark = lab.mark()

    def run() -> None:
        try:
            lab.wait_for(lambda: any(match(e) for e in lab.mutations_since(mark, array)), timeout=60, interval=0.02)
            act()
        except Exception as exc:  # pylint: disable=broad-except
            thread.error = exc  # type: ignore[attr-defined]

    thread = threading.Thread(target=run, daemon=True)
    thread.error = None  # type: ignore[attr-defined]
    thread.start()
    return thread


def patched_state(state: str) -> t.Callable[[dict[str, t.Any]], bool]:
    """A log entry of a relationship PATCH to ``state``."""
    return lambda e: e["method"] == "PATCH" and "/snapmirror/relationships/" in e["path"] and \
        (e.get("body") or {}).get("state") == state


def posted_transfer(entry: dict[str, t.Any]) -> bool:
    return entry["method"] == "POST" and entry["path"].endswith("/transfers")
