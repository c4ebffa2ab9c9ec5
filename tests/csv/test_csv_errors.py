"""Bad input that fails a csv fetch: a SourceError whose message names the source, the file and the column."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pylantir import SourceError


def fails(fetch, config: dict, fields=("patient_id",)) -> str:
    with pytest.raises(SourceError) as raised:
        fetch(config, fields=fields)
    return str(raised.value)


def test_missing_file(fetch, tmp_path: Path):
    path = tmp_path / "missing.csv"
    assert fails(fetch, {"file_path": str(path)}) == f"source 'site_b': file '{path}' does not exist"


def test_glob_matching_nothing(fetch, tmp_path: Path):
    pattern = str(tmp_path / "*.csv")
    assert fails(fetch, {"file_path": pattern}) == f"source 'site_b': no file matches '{pattern}'"


def test_a_directory_is_not_a_file(fetch, tmp_path: Path):
    assert "is a directory, not a file" in fails(fetch, {"file_path": str(tmp_path)})


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read a file whatever its permissions")
def test_unreadable_file(fetch, tmp_path: Path):
    path = tmp_path / "locked.csv"
    path.write_text("patient_id\nP1\n")
    path.chmod(0)
    assert fails(fetch, {"file_path": str(path)}) == f"source 'site_b': cannot read '{path}': Permission denied"


@pytest.mark.skipif(not os.path.isfile("/proc/self/mem"), reason="needs Linux's /proc/self/mem, which fails to read")
def test_a_file_that_fails_while_being_read(fetch):
    message = fails(fetch, {"file_path": "/proc/self/mem"})
    assert message == "source 'site_b': cannot read '/proc/self/mem': Input/output error"


def test_empty_file_has_no_header(fetch, tmp_path: Path):
    path = tmp_path / "empty.csv"
    path.write_text("\n\n")
    message = fails(fetch, {"file_path": str(path)})
    assert message.startswith(f"source 'site_b': '{path}': no header row")


def test_wrong_encoding_in_the_header(fetch, tmp_path: Path):
    path = tmp_path / "latin.csv"
    path.write_bytes("patient_id,Prénom\nP1,ZOË\n".encode("latin-1"))
    message = fails(fetch, {"file_path": str(path)})
    assert str(path) in message and "header row (line 1) cannot be decoded" in message
    assert "not valid utf-8" in message and "config.encoding" in message


def test_utf16_file_read_as_utf8(fetch, tmp_path: Path):
    path = tmp_path / "excel.csv"
    path.write_bytes("patient_id\tname\nP1\tDEMO\n".encode("utf-16"))
    assert "cannot be decoded" in fails(fetch, {"file_path": str(path)})


def test_a_mapped_column_that_does_not_exist(fetch, tmp_path: Path):
    path = tmp_path / "site.csv"
    path.write_text("patient_id,Scan_Date\nP1,2026-11-25\n")
    message = fails(fetch, {"file_path": str(path)}, fields=["patient_id", "scan_date", "dob"])
    assert message.startswith(f"source 'site_b': '{path}': columns 'dob', 'scan_date' (did you mean 'Scan_Date'?)")
    assert "are not in the header row (2 column(s) split on ',')" in message


def test_a_missing_header_row_is_reported_through_the_mapped_columns(fetch, tmp_path: Path):
    path = tmp_path / "noheader.csv"
    path.write_text("P1,DEMO^ALICE,2026-11-25\n")
    message = fails(fetch, {"file_path": str(path)}, fields=["patient_id"])
    assert "column 'patient_id' used by the source is not in the header row" in message
    assert "DEMO^ALICE" not in message  # the data row taken for a header is patient data: never quoted


def test_the_filter_column_must_exist(fetch, tmp_path: Path):
    path = tmp_path / "site.csv"
    path.write_text("patient_id\nP1\n")
    message = fails(fetch, {"file_path": str(path), "filter": {"column": "site", "equals": "A"}})
    assert "column 'site' used by the source is not in the header row" in message


def test_a_duplicate_column_name(fetch, tmp_path: Path):
    path = tmp_path / "site.csv"
    path.write_text("patient_id,date,date\nP1,a,b\n")
    assert fails(fetch, {"file_path": str(path)}).endswith("column 'date' appears twice in the header row")


def test_one_bad_file_of_a_glob_fails_the_whole_fetch(fetch, tmp_path: Path):
    (tmp_path / "a.csv").write_text("patient_id\nP1\n")
    (tmp_path / "b.csv").write_text("id\nP2\n")
    assert f"'{tmp_path / 'b.csv'}'" in fails(fetch, {"file_path": str(tmp_path / "*.csv")})


def test_an_invalid_config_reaching_fetch_is_a_source_error(fetch, tmp_path: Path):
    message = fails(fetch, {"file_path": str(tmp_path / "x.csv"), "delimiter": ":"})
    assert message.startswith("source 'site_b': invalid config: delimiter:")
