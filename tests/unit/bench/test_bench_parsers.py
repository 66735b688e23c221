"""bench/generators.py's output parsers, fed with what wrk, ab, hey, k6 and Locust really printed.

The texts were captured on 127.0.0.1 with the argv bench/compare.py builds (wrk 4.1.0, ab 2.3,
hey 0.1.4, k6 1.1.0, Locust 2.47.0), against nginx and tests/servers/target.py (--delay-ms,
--fail-every, --stall-ms); they are trimmed to the lines the parsers read and otherwise
verbatim. No process, no network: pure parsing.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _load(name: str) -> ModuleType:
    """bench/ is not a package: import bench/<name>.py by path."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it is executed
    spec.loader.exec_module(module)
    return module


generators = _load("generators")
Measurement = generators.Measurement
ToolFailed = generators.ToolFailed
WORK = Path("/nonexistent")  # wrk, ab and hey are parsed from their output alone


def assert_measured(got: Any, expected: Any) -> None:
    """Counts exactly; figures exact up to float rounding (20.6 ms is 0.0206 s x 1e3)."""
    assert (got.requests, got.errors) == (expected.requests, expected.errors)
    assert (got.rps, got.p50_ms, got.p99_ms) == pytest.approx(
        (expected.rps, expected.p50_ms, expected.p99_ms), rel=1e-12, abs=0
    )
    assert got.load_window == expected.load_window
    assert got.own_cpu_s == expected.own_cpu_s


# --- wrk --------------------------------------------------------------------------------

WRK_NGINX = """\
Running 2s test @ http://127.0.0.1:51849/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     0.87ms    1.25ms   9.08ms   83.95%
    Req/Sec    81.26k     3.68k   90.73k    70.00%
  Latency Distribution
     50%  271.00us
     75%    1.05ms
     90%    2.95ms
     99%    4.92ms
  163224 requests in 2.02s, 23.35MB read
Requests/sec:  80619.29
Transfer/sec:     11.53MB
"""

WRK_NON_2XX = """\
Running 2s test @ http://127.0.0.1:52043/
  1 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    20.71ms    0.89ms  24.51ms   91.46%
    Req/Sec   481.60     39.19   505.00     80.00%
  Latency Distribution
     50%   20.43ms
     75%   20.53ms
     90%   20.79ms
     99%   24.45ms
  960 requests in 2.00s, 101.16KB read
  Non-2xx or 3xx responses: 96
Requests/sec:    479.50
Transfer/sec:     50.53KB
"""

WRK_SOCKET_TIMEOUTS = """\
Running 3s test @ http://127.0.0.1:56587/
  1 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   403.02us  789.53us   5.40ms   89.88%
    Req/Sec    34.31k    13.94k   48.92k    81.82%
  Latency Distribution
     50%  102.00us
     75%  196.00us
     90%    1.22ms
     99%    3.96ms
  37871 requests in 3.00s, 3.83MB read
  Socket errors: connect 0, read 0, write 0, timeout 10
Requests/sec:  12604.99
Transfer/sec:      1.27MB
"""

# wrk pads a latency in seconds to the width of "ms": "1.17s " (\x20 = that trailing space).
WRK_SECONDS = """\
Running 4s test @ http://127.0.0.1:35305/
  1 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   333.36ms  471.57ms   1.50s    79.81%
    Req/Sec     1.49k   693.46     1.92k    83.33%
  Latency Distribution
     50%    5.66ms
     75%  649.27ms
     90%    1.17s\x20
     99%    1.48s\x20
  1830 requests in 4.01s, 189.43KB read
Requests/sec:    456.70
Transfer/sec:     47.28KB
"""


@pytest.mark.parametrize(
    ("out", "expected"),
    [
        pytest.param(WRK_NGINX, Measurement(163224, 80619.29, 0.271, 4.92, 0), id="nginx-us"),
        pytest.param(WRK_NON_2XX, Measurement(960, 479.50, 20.43, 24.45, 96), id="non-2xx"),
        pytest.param(
            WRK_SOCKET_TIMEOUTS, Measurement(37871, 12604.99, 0.102, 3.96, 10), id="timeouts"
        ),
        pytest.param(
            WRK_SECONDS,
            Measurement(1830, 456.70, 5.66, 1480.0, 0),
            id="p99-in-seconds",  # printed "1.48s " with a trailing space
        ),
    ],
)
def test_parse_wrk(out: str, expected: Any) -> None:
    assert_measured(generators.parse_wrk(out, WORK), expected)


@pytest.mark.parametrize(
    ("value", "ms"),
    [
        ("271.00us", 0.271),
        ("102.00us", 0.102),
        ("4.92ms", 4.92),
        ("649.27ms", 649.27),
        ("1.48s", 1480.0),
    ],
)
def test_wrk_ms(value: str, ms: float) -> None:
    assert generators._wrk_ms(value) == pytest.approx(ms, rel=1e-12, abs=0)


@pytest.mark.parametrize("value", ["", "271.00", "81.26k"])
def test_wrk_ms_rejects_what_is_not_a_latency(value: str) -> None:
    with pytest.raises(ToolFailed, match="unexpected wrk latency"):
        generators._wrk_ms(value)


# --- ab ---------------------------------------------------------------------------------

AB_NGINX = """\
Complete requests:      145289
Failed requests:        0
Keep-Alive requests:    145289
Total transferred:      21793350 bytes
HTML transferred:       435867 bytes
Requests per second:    72644.03 [#/sec] (mean)

Percentage of the requests served within a certain time (ms)
  50%      0
  66%      0
  75%      0
  80%      0
  90%      1
  95%      4
  98%      5
  99%      5
 100%     10 (longest request)
"""

AB_NON_2XX = """\
Complete requests:      953
Failed requests:        0
Non-2xx responses:      95
Keep-Alive requests:    953
Total transferred:      102823 bytes
HTML transferred:       10483 bytes
Requests per second:    474.37 [#/sec] (mean)

Percentage of the requests served within a certain time (ms)
  50%     20
  66%     21
  75%     21
  80%     21
  90%     21
  95%     24
  98%     25
  99%     26
 100%     26 (longest request)
"""

AB_REFUSED = """\
This is ApacheBench, Version 2.3 <$Revision$>
Copyright 1996 Adam Twiss, Zeus Technology Ltd, http://www.zeustech.net/
Licensed to The Apache Software Foundation, http://www.apache.org/

Benchmarking 127.0.0.1 (be patient)...apr_socket_recv: Connection refused (111)
"""


@pytest.mark.parametrize(
    ("out", "expected"),
    [
        pytest.param(AB_NGINX, Measurement(145289, 72644.03, 0.0, 5.0, 0), id="nginx"),
        pytest.param(AB_NON_2XX, Measurement(953, 474.37, 20.0, 26.0, 95), id="non-2xx"),
    ],
)
def test_parse_ab(out: str, expected: Any) -> None:
    assert_measured(generators.parse_ab(out, WORK), expected)


def test_parse_ab_without_a_summary_fails() -> None:
    with pytest.raises(ToolFailed, match="Complete requests"):
        generators.parse_ab(AB_REFUSED, WORK)


# --- hey --------------------------------------------------------------------------------

HEY_NGINX = """\
  Requests/sec:\t24929.0309

Latency distribution:
  10% in 0.0004 secs
  25% in 0.0009 secs
  50% in 0.0016 secs
  75% in 0.0026 secs
  90% in 0.0041 secs
  95% in 0.0054 secs
  99% in 0.0078 secs

Status code distribution:
  [200]\t49884 responses
"""

HEY_500S = """\
  Requests/sec:\t473.9885

Latency distribution:
  10% in 0.0202 secs
  25% in 0.0203 secs
  50% in 0.0206 secs
  75% in 0.0211 secs
  90% in 0.0224 secs
  95% in 0.0239 secs
  99% in 0.0260 secs

Status code distribution:
  [200]\t861 responses
  [500]\t96 responses
"""

HEY_TIMEOUTS = """\
  Requests/sec:\t3112.3031

Latency distribution:
  10% in 0.0001 secs
  25% in 0.0002 secs
  50% in 0.0003 secs
  75% in 0.0005 secs
  90% in 0.0009 secs
  95% in 0.0028 secs
  99% in 0.0052 secs

Status code distribution:
  [200]\t9335 responses

Error distribution:
  [10]\tGet "http://127.0.0.1:56587/": context deadline exceeded \
(Client.Timeout exceeded while awaiting headers)
"""

HEY_REFUSED = """\
  Requests/sec:\t35132.5080

Latency distribution:

Status code distribution:

Error distribution:
  [35155]\tGet "http://127.0.0.1:36573/": dial tcp 127.0.0.1:36573: connect: connection refused
"""


@pytest.mark.parametrize(
    ("out", "expected"),
    [
        pytest.param(HEY_NGINX, Measurement(49884, 24929.0309, 1.6, 7.8, 0), id="nginx"),
        pytest.param(HEY_500S, Measurement(861 + 96, 473.9885, 20.6, 26.0, 96), id="500s"),
        pytest.param(HEY_TIMEOUTS, Measurement(9335 + 10, 3112.3031, 0.3, 5.2, 10), id="timeouts"),
    ],
)
def test_parse_hey(out: str, expected: Any) -> None:
    assert_measured(generators.parse_hey(out, WORK), expected)


def test_parse_hey_with_no_response_at_all_fails() -> None:
    with pytest.raises(ToolFailed, match="50% in"):
        generators.parse_hey(HEY_REFUSED, WORK)


# --- Locust (its --json-file, not its output) -------------------------------------------

LOCUST_NGINX = """\
[
    {
        "name": "/",
        "method": "GET",
        "last_request_timestamp": 1795265556.8697252,
        "start_time": 1795265555.0420978,
        "num_requests": 17060,
        "num_failures": 0,
        "response_times": {
            "6": 737,
            "0": 47,
            "5": 1092,
            "7": 492,
            "8": 305,
            "1": 96,
            "2": 2714,
            "9": 103,
            "12": 14,
            "10": 49,
            "11": 38,
            "3": 8845,
            "4": 2326,
            "13": 2,
            "15": 6,
            "16": 3,
            "19": 4,
            "20": 2,
            "30": 6,
            "31": 17,
            "28": 18,
            "32": 8,
            "21": 1,
            "23": 6,
            "22": 14,
            "24": 1,
            "25": 11,
            "26": 16,
            "34": 44,
            "33": 6,
            "52": 1,
            "54": 16,
            "27": 1,
            "55": 15,
            "56": 4
        }
    }
]"""

LOCUST_FAILURES = """\
[
    {
        "name": "/",
        "method": "GET",
        "last_request_timestamp": 1795265565.3696353,
        "start_time": 1795265563.5686157,
        "num_requests": 830,
        "num_failures": 83,
        "response_times": {
            "24": 36,
            "23": 15,
            "28": 1,
            "25": 47,
            "21": 523,
            "22": 64,
            "20": 112,
            "26": 21,
            "27": 1,
            "45": 1,
            "46": 5,
            "47": 1,
            "49": 1,
            "50": 1,
            "55": 1
        }
    }
]"""

LOCUST_FAILURES_BUCKETS = {
    24: 36, 23: 15, 28: 1, 25: 47, 21: 523, 22: 64, 20: 112, 26: 21,
    27: 1, 45: 1, 46: 5, 47: 1, 49: 1, 50: 1, 55: 1,
}  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            LOCUST_NGINX,
            Measurement(
                17060,
                17060 / (1795265556.8697252 - 1795265555.0420978),
                3.0,
                22.0,
                0,
                load_window=(1795265555.0420978, 1795265556.8697252),
            ),
            id="nginx",
        ),
        pytest.param(
            LOCUST_FAILURES,
            Measurement(
                830,
                830 / (1795265565.3696353 - 1795265563.5686157),
                21.0,
                46.0,
                83,
                load_window=(1795265563.5686157, 1795265565.3696353),
            ),
            id="failures",
        ),
    ],
)
def test_parse_locust(text: str, expected: Any, tmp_path: Path) -> None:
    (tmp_path / "locust.json").write_text(text)
    assert_measured(generators.parse_locust("", tmp_path), expected)


@pytest.mark.parametrize(
    ("percent", "ms"),
    [(0.0, 20.0), (0.5, 21.0), (0.9, 24.0), (0.99, 46.0), (1.0, 55.0)],
)
def test_locust_percentile(percent: float, ms: float) -> None:
    assert generators._locust_percentile(LOCUST_FAILURES_BUCKETS, 830, percent) == ms


def test_locust_percentile_of_no_request_is_zero() -> None:
    assert generators._locust_percentile({}, 0, 0.99) == 0.0


# --- k6 (its --summary-export JSON, not its output) -------------------------------------
# Trimmed to the three metrics the parser reads; k6 writes the metrics in random order.

K6_NGINX = """\
{
    "metrics": {
        "http_reqs": {
            "count": 6877,
            "rate": 3424.330357260451
        },
        "http_req_duration": {
            "p(99)": 46.80185095999995,
            "count": 6877,
            "p(50)": 12.07301
        },
        "http_req_failed": {
            "passes": 0,
            "fails": 6877,
            "value": 0
        }
    }
}"""

# tests/servers/target.py --delay-ms 20 --fail-every 10: every tenth request is a 500.
K6_500S = """\
{
    "metrics": {
        "http_req_failed": {
            "passes": 89,
            "fails": 809,
            "value": 0.09910913140311804
        },
        "http_reqs": {
            "count": 898,
            "rate": 448.35308366528915
        },
        "http_req_duration": {
            "p(50)": 21.132026500000002,
            "p(99)": 29.90323937999998,
            "count": 898
        }
    }
}"""

# Nothing listening: k6 counts each refused connection as a failed request of 0 ms.
K6_REFUSED = """\
{
    "metrics": {
        "http_req_failed": {
            "fails": 0,
            "passes": 4768,
            "value": 1
        },
        "http_reqs": {
            "count": 4768,
            "rate": 2376.0647361986858
        },
        "http_req_duration": {
            "p(99)": 0,
            "count": 4768,
            "p(50)": 0
        }
    }
}"""

# 1 VU for 1 s against --delay-ms 8000: the one request was cut off at the graceful stop
# ("No script iterations fully finished"), so k6 has no request metric at all. Verbatim.
K6_NO_REQUEST = """\
{
    "root_group": {
        "name": "",
        "path": "",
        "id": "d41d8cd98f00b204e9800998ecf8427e",
        "groups": {},
        "checks": {}
    },
    "metrics": {
        "vus_max": {
            "max": 1,
            "value": 1,
            "min": 1
        },
        "data_sent": {
            "count": 71,
            "rate": 11.830090904556258
        },
        "data_received": {
            "count": 0,
            "rate": 0
        },
        "vus": {
            "value": 1,
            "min": 1,
            "max": 1
        }
    }
}"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            K6_NGINX,
            Measurement(6877, 3424.330357260451, 12.07301, 46.80185095999995, 0),
            id="nginx",
        ),
        pytest.param(
            K6_500S,
            Measurement(898, 448.35308366528915, 21.132026500000002, 29.90323937999998, 89),
            id="500s",
        ),
        pytest.param(
            K6_REFUSED, Measurement(4768, 2376.0647361986858, 0.0, 0.0, 4768), id="refused"
        ),
    ],
)
def test_parse_k6(text: str, expected: Any, tmp_path: Path) -> None:
    (tmp_path / "k6-summary.json").write_text(text)
    assert_measured(generators.parse_k6("", tmp_path), expected)


def test_parse_k6_without_a_finished_request_fails(tmp_path: Path) -> None:
    (tmp_path / "k6-summary.json").write_text(K6_NO_REQUEST)
    with pytest.raises(ToolFailed, match="no http_reqs"):
        generators.parse_k6("", tmp_path)


def test_k6_argv_runs_the_closed_loop_script_on_loopback_only(tmp_path: Path) -> None:
    argv = generators.k6_argv("http://127.0.0.1:8080", 50, 10, tmp_path)
    assert argv[1:] == [
        "run", "-q", "--no-color", "--no-usage-report", "--address", "",
        "-e", "K6_VUS=50", "-e", "K6_SECONDS=10", "-e", "K6_URL=http://127.0.0.1:8080/",
        "--summary-export", str(tmp_path / "k6-summary.json"), str(ROOT / "bench" / "k6script.js"),
    ]  # fmt: skip
