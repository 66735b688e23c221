"""`target:` in a scenario file: what it becomes, and errors naming file:line."""

import signal
import textwrap
from pathlib import Path

import pytest

from perfrun.errors import ScenarioError
from perfrun.scenario.loader import load_file
from perfrun.scenario.target import Ready, ReadyKind, TargetScope, TargetSpec, with_command

HEAD = """\
scenarios:
  api:
    type: load
    severity: low
    requests: [{name: health, path: /health}]
    load: {users: 1, requests_per_user: 1}
"""


def load(tmp_path: Path, target: str) -> TargetSpec | None:
    path = tmp_path / "a.yaml"
    path.write_text(HEAD + textwrap.indent(textwrap.dedent(target), "    "))
    (scenario,) = load_file(path, {})
    return scenario.target


def test_full_target_becomes_its_spec_with_cwd_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "service").mkdir()
    spec = load(
        tmp_path,
        """\
        target:
          command: ["uvicorn", "app:app", "--port", "{port}"]
          cwd: service
          env: {APP_ENV: perf, WORKERS: 2}
          ready: {http: /health, timeout: 5s}
          stop: {signal: SIGINT, grace: 2s}
          scope: scenario
        """,
    )
    assert spec == TargetSpec(
        command=("uvicorn", "app:app", "--port", "{port}"),
        cwd=(tmp_path / "service").resolve(),
        env={"APP_ENV": "perf", "WORKERS": "2"},
        ready=Ready(ReadyKind.HTTP, "/health", 5.0),
        stop_signal=signal.SIGINT,
        grace=2.0,
        scope=TargetScope.SCENARIO,
    )


def test_string_command_is_split_like_a_shell_and_defaults_apply(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(HEAD + "    target: {command: \"serve --name 'my app' --port {port}\"}\n")
    (scenario,) = load_file(path, {})
    assert scenario.target == TargetSpec(command=("serve", "--name", "my app", "--port", "{port}"))
    assert scenario.target.ready == Ready(ReadyKind.TCP, "", 30.0)
    assert scenario.base_url == "http://127.0.0.1:{port}"


@pytest.mark.parametrize(
    ("target", "line", "problem"),
    [
        ("target: {cwd: .}", 7, "missing required key 'command'"),
        ("target: {command: []}", 7, "must name a program to run"),
        ("target: {command: 'a \"b'}", 7, "cannot split"),
        ("target:\n  command: a\n  cwd: nowhere", 9, "no such directory"),
        ("target:\n  command: a\n  ready: {http: health}", 9, "must be a path starting with '/'"),
        ("target:\n  command: a\n  ready: {tcp: true, log: x}", 9, "takes one of http"),
        ("target:\n  command: a\n  ready: {tcp: 1}", 9, "must be true"),
        ("target:\n  command: a\n  stop: {signal: SIGNOPE}", 9, "unknown signal 'SIGNOPE'"),
        ("target:\n  command: a\n  scope: forever", 9, "must be one of run, scenario"),
        ("base_url: demo\ntarget: {command: a}", 7, "base_url: demo starts the demo target"),
    ],
)
def test_bad_target_names_file_line_and_problem(
    tmp_path: Path, target: str, line: int, problem: str
) -> None:
    with pytest.raises(ScenarioError) as caught:
        load(tmp_path, target)
    assert f"a.yaml:{line}:" in caught.value.message
    assert problem in caught.value.message


def test_target_cmd_replaces_only_the_command_of_a_scenario_target() -> None:
    own = TargetSpec(("old",), ready=Ready(ReadyKind.LOG, "up", 3.0), scope=TargetScope.SCENARIO)
    assert with_command(own, ("new", "{port}")) == TargetSpec(
        ("new", "{port}"), ready=Ready(ReadyKind.LOG, "up", 3.0), scope=TargetScope.SCENARIO
    )
    assert with_command(None, ("new",)) == TargetSpec(("new",))
