"""DICOMweb's search parameters (pylantir.dicomweb.search) on C-FIND's path, without HTTP: each C-FIND
conformance case, given as query parameters, selects what a real C-FIND of the same case selects, and the
responses equal C-FIND's attribute by attribute (the HTTP face is tested in tests/core/dicomweb)."""

from __future__ import annotations

from typing import Any

import pytest
from pydicom import Dataset

from pylantir.config import PylantirConfig
from pylantir.dicom.client import Peer, find
from pylantir.dicom.find import matching_responses
from pylantir.dicom.matching import MatchSettings, build_query
from pylantir.dicom.responses import RequestPlan
from pylantir.dicomweb.search import BadSearch, parse_search
from pylantir.store import Database

from .test_find_matching import CASES, items  # noqa: F401  (items: a fixture)


def case_parameters(top: dict[str, Any] | None, sps: dict[str, Any] | None) -> list[tuple[str, str]]:
    """A conformance case as query parameters: a UID list comma-separated, step keys by dotted path."""
    parameters = [(keyword, ",".join(value) if isinstance(value, list) else value)
                  for keyword, value in (top or {}).items()]
    parameters += [(f"ScheduledProcedureStepSequence.{keyword}", value) for keyword, value in (sps or {}).items()]
    return parameters


def answers(database: Database, parameters: list[tuple[str, str]]) -> list[Dataset]:
    search = parse_search(parameters)
    settings = MatchSettings.for_config(PylantirConfig.model_validate({}), database.sql)
    statement = build_query(search.identifier, settings).statement.offset(search.offset)
    with database.session() as session:
        return [response.dataset() for response in matching_responses(
            session, statement, RequestPlan.of(search.identifier, search.everything), "test")]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("top", "sps", "expected"), CASES)
@pytest.mark.usefixtures("items")
def test_cases_as_parameters_match_as_c_find(peer: Peer, database: Database, top: Any, sps: Any,
                                             expected: list[str]) -> None:
    parameters = case_parameters(top, sps)
    ours = answers(database, parameters)
    theirs = find(peer, parse_search(parameters).identifier)
    assert sorted(str(answer.PatientID) for answer in ours) == sorted(expected)
    assert [answer.to_json_dict() for answer in ours] == [answer.to_json_dict() for answer in theirs]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.usefixtures("items")
def test_includefield_all_returns_more_than_the_usual_keys(database: Database) -> None:
    [usual] = answers(database, [("PatientID", "P1")])
    [everything] = answers(database, [("PatientID", "P1"), ("includefield", "all")])
    assert {element.tag for element in usual} < {element.tag for element in everything}
    assert everything.ScheduledProcedureStepSequence[0].ScheduledPerformingPhysicianName == "House^Gregory"


@pytest.mark.parametrize(("parameters", "named"), [
    ([("PatientNme", "X")], "PatientNme"),
    ([("00091001", "x")], "00091001"),
    ([("PatientID", "P" * 65)], "PatientID"),
    ([("PatientID.Modality", "MR")], "PatientID"),
    ([("limit", "0")], "limit"),
    ([("fuzzymatching", "yes")], "fuzzymatching"),
    ([("includefield", "all"), ("includefield", "PatientID")], "includefield"),
])
def test_bad_parameters_name_the_parameter(parameters: list[tuple[str, str]], named: str) -> None:
    with pytest.raises(BadSearch, match=named):
        parse_search(parameters)
