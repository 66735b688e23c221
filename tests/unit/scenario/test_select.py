import pytest

from perfrun.errors import UsageError
from perfrun.scenario.model import LoadSpec, RequestSpec, Scenario, ScenarioType, Severity
from perfrun.scenario.select import select_scenarios


def make(name: str, type_: str, severity: str) -> Scenario:
    return Scenario(
        name=name,
        type=ScenarioType(type_),
        severity=Severity(severity),
        base_url="demo",
        requests=(RequestSpec(name="health", path="/health"),),
        load=LoadSpec(users=1, requests_per_user=1),
    )


AVAILABLE = {
    s.name: s
    for s in [
        make("smoke", "load", "low"),
        make("checkout", "stress", "high"),
        make("burst", "spike", "critical"),
        make("soak", "endurance", "high"),
        make("api", "load", "critical"),
    ]
}


def names_of(scenarios: list[Scenario]) -> list[str]:
    return [s.name for s in scenarios]


def select(
    names: tuple[str, ...] = (), types: tuple[str, ...] = (), severities: tuple[str, ...] = ()
) -> list[str]:
    return names_of(select_scenarios(AVAILABLE, names, types, severities))


def usage_error(
    names: tuple[str, ...] = (), types: tuple[str, ...] = (), severities: tuple[str, ...] = ()
) -> str:
    with pytest.raises(UsageError) as excinfo:
        select_scenarios(AVAILABLE, names, types, severities)
    assert excinfo.value.exit_code == 2
    return str(excinfo.value)


@pytest.mark.parametrize(
    ("names", "types", "severities", "expected"),
    [
        pytest.param((), (), (), ["api", "burst", "checkout", "smoke", "soak"], id="no-filter-all"),
        pytest.param(("soak", "api"), (), (), ["soak", "api"], id="names-keep-given-order"),
        pytest.param(("soak, api", " "), (), (), ["soak", "api"], id="names-comma-separated"),
        pytest.param(("api,,api", "api"), (), (), ["api"], id="names-deduplicated"),
        pytest.param((), ("load",), (), ["api", "smoke"], id="type-sorted-by-name"),
        pytest.param((), ("spike,stress",), (), ["burst", "checkout"], id="types-or"),
        pytest.param((), ("load", "spike"), (), ["api", "burst", "smoke"], id="types-repeated-or"),
        pytest.param((), ("LOAD",), (), ["api", "smoke"], id="type-case-insensitive"),
        pytest.param((), (), ("high",), ["checkout", "soak"], id="severity-exact-not-at-least"),
        pytest.param((), (), ("low,critical",), ["api", "burst", "smoke"], id="severities-or"),
        pytest.param((), ("load",), ("critical",), ["api"], id="type-and-severity"),
        pytest.param(("soak,checkout,smoke",), (), ("high",), ["soak", "checkout"], id="name-sev"),
    ],
)  # fmt: skip
def test_selection_rules(
    names: tuple[str, ...], types: tuple[str, ...], severities: tuple[str, ...], expected: list[str]
) -> None:
    assert select(names, types, severities) == expected


def test_unknown_name_lists_known_scenarios_sorted_and_suggests() -> None:
    message = usage_error(names=("sock",))
    assert "unknown scenario 'sock'" in message
    assert "did you mean 'soak'?" in message
    assert "known scenarios: api, burst, checkout, smoke, soak" in message


def test_several_unknown_names_are_all_listed() -> None:
    message = usage_error(names=("nope,api,zilch",))
    assert "unknown scenarios 'nope', 'zilch'" in message
    assert "known scenarios: api, burst, checkout, smoke, soak" in message


def test_unknown_type_lists_allowed_types() -> None:
    message = usage_error(types=("load,soak",))
    assert "unknown type 'soak'" in message
    assert "load, stress, spike, volume, endurance, memory, cpu" in message


@pytest.mark.parametrize(
    ("types", "severities", "expected"),
    [
        (("stres",), (), "unknown type 'stres'; did you mean 'stress'? choose from load,"),
        ((), ("hihg",), "unknown severity 'hihg'; did you mean 'high'? choose from low,"),
        (("Spiek",), (), "unknown type 'Spiek'; did you mean 'spike'? choose from load,"),
    ],
)
def test_a_mistyped_type_or_severity_gets_the_closest_one(
    types: tuple[str, ...], severities: tuple[str, ...], expected: str
) -> None:
    assert expected in usage_error(types=types, severities=severities)


def test_unknown_severity_lists_allowed_severities() -> None:
    message = usage_error(severities=("urgent",))
    assert "unknown severity 'urgent'; choose from low, medium, high, critical" in message


def test_filter_that_matches_nothing_is_named() -> None:
    message = usage_error(types=("memory",), severities=("high",))
    assert message == "nothing selected: no scenario has type memory"


def test_filters_that_each_match_but_not_together_are_both_named() -> None:
    message = usage_error(types=("spike",), severities=("low",))
    assert message == "nothing selected: no scenario has type spike and severity low"


def test_filters_are_judged_against_the_named_scenarios() -> None:
    message = usage_error(names=("smoke",), types=("stress",), severities=("medium",))
    assert message == (
        "nothing selected: no named scenario has type stress; no named scenario has severity medium"
    )


def test_no_scenarios_at_all_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="there are no scenarios"):
        select_scenarios({}, [], [], [])


def test_an_unknown_name_among_many_lists_the_first_twenty_and_the_count() -> None:
    many = {f"s{i:05}": make(f"s{i:05}", "load", "low") for i in range(1000)}
    with pytest.raises(UsageError) as raised:
        select_scenarios(many, ("s1",), (), ())
    message = str(raised.value)
    known = ", ".join(f"s{i:05}" for i in range(20))
    assert message.endswith(f"known scenarios: {known}, ... (1,000 in all: perfrun --list)")
    assert len(message) < 400
