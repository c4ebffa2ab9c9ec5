"""pylantir-redcap installs, is found through its entry point, and provides type 'redcap'."""

from importlib.metadata import version

from pylantir.testing import load_distribution


def test_found_through_its_entry_point():
    registry, info = load_distribution("pylantir-redcap")
    assert (info.distribution, info.version) == ("pylantir-redcap", version("pylantir-redcap"))
    assert registry.owner("redcap") is info


def test_validate_config_reports_unknown_keys_with_their_path():
    registry, _ = load_distribution("pylantir-redcap")
    problems = registry.validate_config("redcap", {"no_such_option": 1})
    assert "no_such_option" in {problem.path for problem in problems}
