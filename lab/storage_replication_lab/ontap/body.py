"""Request bodies as clients send them: nested or dotted keys, values as strings or not."""

from __future__ import annotations

import typing as t


class OntapError(Exception):
    """An ONTAP error response: HTTP status plus the ``error`` object."""

    def __init__(self, status: int, message: str, code: str, target: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = str(code)
        self.target = target

    def body(self) -> dict[str, t.Any]:
        error: dict[str, t.Any] = {"message": self.message, "code": self.code}
        if self.target:
            error["target"] = self.target
        return {"error": error}


def not_found(target: str = "uuid") -> OntapError:
    return OntapError(404, "entry doesn't exist", "4", target)


def flatten(value: t.Any, prefix: str = "") -> dict[str, t.Any]:
    """``{"nas": {"path": "/v"}, "svm.name": "s"}`` -> ``{"nas.path": "/v", "svm.name": "s"}``."""
    out: dict[str, t.Any] = {}
    if isinstance(value, dict) and (value or not prefix):
        for key, sub in value.items():
            out.update(flatten(sub, f"{prefix}.{key}" if prefix else str(key)))
    else:
        out[prefix] = value
    return out


class Body:
    def __init__(self, raw: t.Any, allowed: t.Iterable[str]) -> None:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise OntapError(400, "The request body must be a JSON object.", "2")
        self.values = flatten(raw)
        allowed = tuple(allowed)
        for key in self.values:
            # a key is known when it is an allowed field, lies below one (``clone`` allows
            # ``clone.parent_volume.name``) or is the parent of one (``{"nas": null}``)
            if not any(key == a or key.startswith(a + ".") or a.startswith(key + ".") for a in allowed):
                raise OntapError(400, f'Unexpected argument "{key}".', "262179", key)

    def has(self, path: str) -> bool:
        return path in self.values or any(k.startswith(path + ".") for k in self.values)

    def get(self, path: str, default: t.Any = None) -> t.Any:
        return self.values.get(path, default)

    def text(self, path: str, default: str | None = None) -> str | None:
        value = self.values.get(path, default)
        return None if value is None else str(value)

    def flag(self, path: str, default: bool = False) -> bool:
        return as_bool(self.values.get(path, default), path)

    def number(self, path: str, default: int | None = None) -> int | None:
        value = self.values.get(path, default)
        if value is None:
            return None
        try:
            if isinstance(value, bool):
                raise ValueError
            return int(value)
        except (TypeError, ValueError) as exc:
            raise OntapError(400, f'Invalid value "{value}" for field "{path}".', "2", path) from exc


def as_bool(value: t.Any, name: str = "value") -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise OntapError(400, f'Invalid value "{value}" for field "{name}": expected a boolean.', "2", name)


def query_flag(query: t.Mapping[str, str], name: str) -> bool:
    if name not in query:
        return False
    return as_bool(query[name], name)
