"""pylantir-json installs, is found through its entry point, and provides type 'json'."""

from importlib.metadata import version

from pylantir.testing import load_distribution


def test_found_through_its_entry_point():
    registry, info = load_distribution("pylantir-json")
    assert (info.distribution, info.version) == ("pylantir-json", version("pylantir-json"))
    assert registry.owner("json") is info


def test_validate_config_reports_unknown_keys_with_their_path():
    registry, _ = load_distribution("pylantir-json")
    problems = registry.validate_config("json", {"no_such_option": 1})
    assert "no_such_option" in {problem.path for problem in problems}
