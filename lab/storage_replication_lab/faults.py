"""What the lab does wrong on purpose (``Faults``) and what it saw (``RequestLog``), per lab process."""

from __future__ import annotations

import random
import typing as t


class Faults:
    """What the lab does wrong on purpose for one array."""

    FIELDS = ("latency_ms", "jitter_ms", "error_rate", "error_count", "error_status", "drop_rate",
              "drop_count", "drop_when", "fail_jobs", "fail_job_message", "fail_job_code",
              "only_mutating", "seed")

    def __init__(self) -> None:
        self.rng = random.Random()
        self.clear()

    def clear(self) -> None:
        self.latency_ms = 0.0
        self.jitter_ms = 0.0
        self.error_rate = 0.0
        self.error_count = 0
        self.error_status = 503
        self.drop_rate = 0.0
        self.drop_count = 0
        self.drop_when = "before"
        self.fail_jobs = 0
        self.fail_job_message = "Injected job failure"
        self.fail_job_code = ""
        self.only_mutating = False
        self.seed = None

    NUMBERS = {"latency_ms": float, "jitter_ms": float, "error_rate": float, "error_count": int,
               "error_status": int, "drop_rate": float, "drop_count": int, "fail_jobs": int}

    def update(self, values: dict[str, t.Any]) -> None:
        """Apply ``values`` (all of them or, when one is invalid, none)."""
        unknown = set(values) - set(self.FIELDS)
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        checked = dict(values)
        for key, kind in self.NUMBERS.items():
            if key in checked:
                try:
                    if isinstance(checked[key], bool):
                        raise TypeError
                    checked[key] = kind(checked[key])
                except (TypeError, ValueError) as exc:
                    raise ValueError(f"fault setting {key} must be a number, not {checked[key]!r}") from exc
        if "only_mutating" in checked:
            checked["only_mutating"] = bool(checked["only_mutating"])
        if checked.get("drop_when", self.drop_when) not in ("before", "after"):
            raise ValueError("drop_when must be 'before' or 'after'")
        for key, value in checked.items():
            setattr(self, key, value)
        if checked.get("seed") is not None:
            self.rng.seed(checked["seed"])

    def describe(self) -> dict[str, t.Any]:
        return {k: getattr(self, k) for k in self.FIELDS}

    def delay(self) -> float:
        if not self.latency_ms and not self.jitter_ms:
            return 0.0
        return max(0.0, self.latency_ms + self.rng.uniform(-self.jitter_ms, self.jitter_ms)) / 1000.0

    def _take(self, count_attr: str, rate: float) -> bool:
        if getattr(self, count_attr) > 0:
            setattr(self, count_attr, getattr(self, count_attr) - 1)
            return True
        return bool(rate) and self.rng.random() < rate

    def take_error(self) -> bool:
        return self._take("error_count", self.error_rate)

    def take_drop(self) -> bool:
        return self._take("drop_count", self.drop_rate)

    def take_job_failure(self) -> tuple[str, str] | None:
        """A (message, code) to fail the next job with, when one is due."""
        if self.fail_jobs > 0:
            self.fail_jobs -= 1
            return self.fail_job_message, str(self.fail_job_code)
        return None


class RequestLog:
    """Every request the arrays served, mutating ones flagged, bodies redacted."""

    def __init__(self, limit: int = 500000) -> None:
        self.entries: list[dict[str, t.Any]] = []
        self.limit = limit
        self.seq = 0

    def add(self, entry: dict[str, t.Any]) -> None:
        self.seq += 1
        entry["seq"] = self.seq
        self.entries.append(entry)
        if len(self.entries) > self.limit:
            del self.entries[: len(self.entries) - self.limit]

    def select(self, array: str | None = None, mutating: bool | None = None,
               since: int = 0) -> list[dict[str, t.Any]]:
        return [e for e in self.entries
                if e["seq"] > since
                and (array is None or e["array"] == array)
                and (mutating is None or e["mutating"] == mutating)]

    def reset(self) -> None:
        self.entries.clear()
