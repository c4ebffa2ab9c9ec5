"""pylantir-csv installs, is found through its entry point, and provides type 'csv'."""

from importlib.metadata import version

from pylantir.testing import load_distribution


def test_found_through_its_entry_point():
    registry, info = load_distribution("pylantir-csv")
    assert (info.distribution, info.version) == ("pylantir-csv", version("pylantir-csv"))
    assert registry.owner("csv") is info


def test_validate_config_reports_unknown_keys_with_their_path():
    registry, _ = load_distribution("pylantir-csv")
    problems = registry.validate_config("csv", {"no_such_option": 1})
    assert "no_such_option" in {problem.path for problem in problems}
