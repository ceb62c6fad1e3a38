"""ONTAP REST query semantics: ``fields``, filters with operators, paging, durations."""

from __future__ import annotations

import datetime
import fnmatch
import re
import typing as t
import urllib.parse

# Parameters that are not field filters.
RESERVED = {"fields", "max_records", "order_by", "return_records", "return_timeout", "start.uuid",
            "start.offset", "list_destinations_only", "force", "failback", "failover", "force_failover",
            "destination_only", "source_only", "source_info_only", "delete_lun_maps_in_destination",
            "unmap_namespace", "action", "preserve", "restore_to_snapshot", "quick_resync"}

_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def iso_duration(seconds: float) -> str:
    """``PT8H35M42S``, ``P1DT2H3M4S``, ``P2DT``; zero parts omitted, ``PT0S`` for nothing."""
    total = int(max(0, seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    out = "P"
    if days:
        out += f"{days}D"
    time_part = ""
    if hours:
        time_part += f"{hours}H"
    if minutes:
        time_part += f"{minutes}M"
    if secs:
        time_part += f"{secs}S"
    if time_part:
        out += "T" + time_part
    elif days:
        out += "T"
    else:
        out += "T0S"
    return out


def parse_duration(text: str) -> float | None:
    match = _DURATION.match(text.strip().upper())
    if not match or text.strip().upper() in ("P", "PT"):
        return None
    days, hours, minutes, secs = match.groups()
    return int(days or 0) * 86400 + int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(secs or 0)


def timestamp(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).isoformat()


def _values_at(record: t.Any, path: list[str]) -> list[t.Any]:
    """All values at a dotted path; lists along the way fan out (``aggregates.name``)."""
    if not path:
        return record if isinstance(record, list) else [record]
    if isinstance(record, list):
        out = []
        for item in record:
            out.extend(_values_at(item, path))
        return out
    if not isinstance(record, dict) or path[0] not in record:
        return [None]
    return _values_at(record[path[0]], path[1:])


def _compare(value: t.Any, op: str, operand: str) -> bool:
    if value is None:
        return False
    left: t.Any
    right: t.Any
    if isinstance(value, bool):
        left, right = str(value).lower(), operand.lower()
    elif isinstance(value, (int, float)):
        try:
            left, right = float(value), float(operand)
        except ValueError:
            return False
    else:
        text = str(value)
        dur_l, dur_r = parse_duration(text), parse_duration(operand)
        if dur_l is not None and dur_r is not None:
            left, right = dur_l, dur_r
        else:
            left, right = text, operand
    if op == "<":
        return left < right
    if op == ">":
        return left > right
    if op == "<=":
        return left <= right
    if op == ">=":
        return left >= right
    return left == right


def _match_one(value: t.Any, pattern: str) -> bool:
    if pattern == "null":
        return value is None
    if pattern == "!null":
        return value is not None
    if pattern.startswith("!"):
        return value is not None and not _match_one(value, pattern[1:])
    for op in ("<=", ">=", "<", ">"):
        if pattern.startswith(op):
            return _compare(value, op, pattern[len(op):])
    if value is None:
        return False
    if isinstance(value, bool):
        return pattern.lower() == str(value).lower()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return float(pattern) == float(value)
        except ValueError:
            return False
    if "*" in pattern:
        return fnmatch.fnmatchcase(str(value), pattern)
    dur_v, dur_p = parse_duration(str(value)), parse_duration(pattern)
    if dur_v is not None and dur_p is not None:
        return dur_v == dur_p
    return str(value) == pattern


def matches(record: dict[str, t.Any], filters: dict[str, str]) -> bool:
    for path, pattern in filters.items():
        values = _values_at(record, path.split("."))
        alternatives = pattern.split("|")
        if not any(_match_one(v, alt) for v in values for alt in alternatives):
            return False
    return True


def _pick(record: dict[str, t.Any], path: list[str], into: dict[str, t.Any]) -> None:
    head = path[0]
    if head not in record:
        return
    value = record[head]
    if len(path) == 1:
        into[head] = value
        return
    if isinstance(value, dict):
        sub = into.setdefault(head, {})
        if isinstance(sub, dict):
            _pick(value, path[1:], sub)
    elif isinstance(value, list):
        items = into.setdefault(head, [{} for _item in value])
        for src, dst in zip(value, items):
            if isinstance(src, dict) and isinstance(dst, dict):
                _pick(src, path[1:], dst)


def select_fields(record: dict[str, t.Any], fields: str | None, keys: t.Iterable[str],
                  expensive: t.Iterable[str] = ()) -> dict[str, t.Any]:
    """The record as ONTAP returns it for ``fields=...``; keys always, ``_links`` always."""
    expensive = set(expensive)
    wanted = [f.strip() for f in (fields or "").split(",") if f.strip()]
    out: dict[str, t.Any] = {}
    if "*" in wanted or "**" in wanted:
        for key, value in record.items():
            if key in expensive and "**" not in wanted:
                continue
            out[key] = value
    for key in keys:
        _pick(record, key.split("."), out)
    for field in wanted:
        if field not in ("*", "**"):
            _pick(record, field.split("."), out)
    if "_links" in record:
        out["_links"] = record["_links"]
    return out


class QueryError(ValueError):
    def __init__(self, message: str, code: str = "2", target: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.target = target


def check_return_timeout(query: t.Mapping[str, str], default: int) -> int:
    raw = query.get("return_timeout")
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise QueryError(f'Invalid value "{raw}" for field "return_timeout". Must be an integer.',
                         "262197", "return_timeout") from exc
    if not 0 <= value <= 120:
        raise QueryError(f'Field "return_timeout" cannot be set to this value: "{raw}". '
                         "The value must be in the range <0..120>.", "262197", "return_timeout")
    return value


def filters_of(query: t.Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in query.items() if k not in RESERVED}


def _sort_key(record: dict[str, t.Any], path: str) -> tuple[int, t.Any]:
    values = _values_at(record, path.split("."))
    value = values[0] if values else None
    if value is None:
        return (1, "")
    if isinstance(value, (int, float)):
        return (0, float(value))
    duration = parse_duration(str(value))
    if duration is not None:
        return (0, duration)
    return (0, str(value))


def collection(path: str, query: t.Mapping[str, str], records: list[dict[str, t.Any]],
               keys: t.Iterable[str], expensive: t.Iterable[str] = (),
               page_size: int | None = None) -> dict[str, t.Any]:
    """Filter, sort, page and trim ``records`` into an ONTAP collection response."""
    check_return_timeout(query, 15)
    selected = [r for r in records if matches(r, filters_of(query))]
    order = query.get("order_by")
    if order:
        parts = order.split()
        reverse = len(parts) > 1 and parts[1].lower() == "desc"
        selected.sort(key=lambda r: _sort_key(r, parts[0]), reverse=reverse)
    else:
        selected.sort(key=lambda r: str(r.get("uuid", r.get("name", ""))))
    if str(query.get("return_records", "true")).lower() == "false":
        return {"num_records": len(selected), "_links": {"self": {"href": _href(path, query)}}}
    start = 0
    if "start.offset" in query:
        try:
            start = max(0, int(query["start.offset"]))
        except ValueError as exc:
            raise QueryError("Invalid paging cursor", "2", "start.offset") from exc
    limit = page_size
    if "max_records" in query:
        try:
            limit = int(query["max_records"])
        except ValueError as exc:
            raise QueryError(f'Invalid value "{query["max_records"]}" for field "max_records"',
                             "2", "max_records") from exc
        if limit < 1:
            raise QueryError('Field "max_records" must be greater than 0', "2", "max_records")
    page = selected[start:start + limit] if limit else selected[start:]
    body: dict[str, t.Any] = {
        "records": [select_fields(r, query.get("fields"), keys, expensive) for r in page],
        "num_records": len(page),
        "_links": {"self": {"href": _href(path, query)}},
    }
    if limit and start + limit < len(selected):
        following = {k: v for k, v in query.items() if k != "start.offset"}
        following["start.offset"] = str(start + limit)
        body["_links"]["next"] = {"href": _href(path, following)}
    return body


def _href(path: str, query: t.Mapping[str, str]) -> str:
    if not query:
        return path
    return path + "?" + urllib.parse.urlencode(list(query.items()), safe=",:*|!<>=/")
