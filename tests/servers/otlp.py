"""A small OTLP/HTTP metrics receiver on 127.0.0.1, in a thread of the test's process: it
decodes every ExportMetricsServiceRequest (protobuf, gzipped or not) with
opentelemetry-proto and keeps it, answering each with an empty success.

    with OtlpReceiver() as receiver:
        ... push to receiver.url ...
        receiver.latest("perfrun.requests")  # {attributes: value} of the last export
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric

PATH = "/v1/metrics"
Attributes = tuple[tuple[str, str], ...]


class OtlpReceiver:
    """Keeps the requests POSTed to `url`, in order of arrival."""

    def __init__(self) -> None:
        self.requests: list[ExportMetricsServiceRequest] = []
        self.refused: list[str] = []
        """What was sent that is not an export to PATH (the request line)."""
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != PATH:
                    receiver.refused.append(self.requestline)
                    self.send_error(404)
                    return
                request = ExportMetricsServiceRequest()
                request.ParseFromString(body)
                with receiver._lock:
                    receiver.requests.append(request)
                answer = ExportMetricsServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet: the test reads what arrived

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{PATH}"

    def metrics(self, name: str) -> list[Metric]:
        """Every export's metric called `name`, in order of arrival."""
        with self._lock:
            requests = list(self.requests)
        return [
            metric
            for request in requests
            for resource in request.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.name == name
        ]

    def latest(self, name: str) -> dict[Attributes, float]:
        """The last exported value of each of the sum or gauge `name`'s streams, by its
        attributes (string values)."""
        values: dict[Attributes, float] = {}
        for metric in self.metrics(name):
            data = metric.sum if metric.HasField("sum") else metric.gauge
            for point in data.data_points:
                value = point.as_int if point.HasField("as_int") else point.as_double
                values[attributes(point.attributes)] = value
        return values

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> OtlpReceiver:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def attributes(pairs: Iterable[KeyValue]) -> Attributes:
    """Protobuf KeyValues (string values) as a sorted tuple of pairs."""
    return tuple(sorted((kv.key, kv.value.string_value) for kv in pairs))
