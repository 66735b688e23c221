"""ScenarioStats that also keep every request's result: for tests that look at each
request (when it went out), which the figures alone do not tell."""

from __future__ import annotations

from perfrun.metrics.result import RequestResult
from perfrun.metrics.stats import EndpointStats, ScenarioStats
from perfrun.scenario.model import LoadSpec


class RecordingStats(ScenarioStats):
    """Records as ScenarioStats does, and keeps each result in `results`."""

    def __init__(self, origin: float, warmup: float = 0.0, scheduled: bool = False) -> None:
        super().__init__(origin, warmup, scheduled)
        self.results: list[RequestResult] = []
        self._names: dict[int, str] = {}

    @classmethod
    def for_load(cls, load: LoadSpec) -> RecordingStats:
        stats = super().for_load(load)
        assert isinstance(stats, RecordingStats)
        return stats

    def endpoint(self, name: str) -> EndpointStats:
        endpoint = super().endpoint(name)
        self._names[id(endpoint)] = name
        return endpoint

    def ok(
        self, endpoint: EndpointStats, started: float, finished: float, queued: float,
        size: int, sent: float, first: float, status: int,
    ) -> None:  # fmt: skip
        name = self._names[id(endpoint)]
        self.results.append(
            RequestResult(
                name,
                started,
                finished - started,
                status,
                size,
                None,
                "",
                queued,
                wait=first - sent,
                receive=finished - first,
            )
        )
        super().ok(endpoint, started, finished, queued, size, sent, first, status)

    def record(self, result: RequestResult) -> None:
        self.results.append(result)
        super().record(result)


class BrokenStats(ScenarioStats):
    """Stats whose recording raises: a bug in perfrun met inside a callback."""

    def ok(
        self, endpoint: EndpointStats, started: float, finished: float, queued: float,
        size: int, sent: float, first: float, status: int,
    ) -> None:  # fmt: skip
        raise RuntimeError("a bug")

    def record(self, result: RequestResult) -> None:
        raise RuntimeError("a bug")
