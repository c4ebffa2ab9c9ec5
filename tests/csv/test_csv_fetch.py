"""fetch_entries of the csv source through a real registry: encodings, delimiters, globs, filters, rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from pylantir import Record, Rejected

HEADER = ["patient_id", "patient_name", "scan_date"]
ROWS = [["P001", "DEMO^ALICE", "2026-11-25"], ["P002", "DEMO^BOB", "2026-11-26"]]


def write_csv(
    path: Path, rows: list[list[str]], delimiter: str = ",", encoding: str = "utf-8", prefix: str = ""
) -> Path:
    text = prefix + "".join(delimiter.join(row) + "\r\n" for row in [HEADER, *rows])
    path.write_bytes(text.encode(encoding))
    return path


def as_data(items: list) -> list[dict[str, str]]:
    assert all(isinstance(item, Record) for item in items), items
    return [dict(item.data) for item in items]


def test_rows_come_as_raw_records_with_their_line(fetch, tmp_path: Path):
    path = write_csv(tmp_path / "site.csv", ROWS)
    items = fetch({"file_path": str(path)}, fields=HEADER)
    assert items == [
        Record(dict(zip(HEADER, ROWS[0], strict=True)), "site.csv, line 2"),
        Record(dict(zip(HEADER, ROWS[1], strict=True)), "site.csv, line 3"),
    ]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_delimiter_is_sniffed_from_the_header(fetch, tmp_path: Path, delimiter: str):
    path = write_csv(tmp_path / "site.csv", [["P001", "DEMO^ALICE, JR", "2026-11-25"]] if delimiter != "," else ROWS,
                     delimiter=delimiter)
    assert as_data(fetch({"file_path": str(path)}, fields=HEADER))[0]["patient_id"] == "P001"


@pytest.mark.parametrize(("configured", "char"), [(",", ","), (";", ";"), ("tab", "\t"), ("\t", "\t"), ("|", "|")])
def test_a_configured_delimiter_wins_over_sniffing(fetch, tmp_path: Path, configured: str, char: str):
    other = ";" if char == "," else ","
    column = f"name{other}given{other}family"  # sniffing alone would split on `other`
    path = tmp_path / "site.csv"
    path.write_text(f"patient_id{char}{column}\nP1{char}DEMO\n")
    (item,) = fetch({"file_path": str(path), "delimiter": configured}, fields=["patient_id"])
    assert item.data == {"patient_id": "P1", column: "DEMO"}


@pytest.mark.parametrize(
    ("encoding", "configured", "prefix"),
    [("utf-8", None, ""), ("utf-8", None, "\ufeff"), ("utf-8", "UTF8", "\ufeff"), ("latin-1", "latin-1", ""),
     ("cp1252", "cp1252", "")],
)
def test_encodings_with_and_without_bom(fetch, tmp_path: Path, encoding: str, configured: str | None, prefix: str):
    rows = [["P003", "DÉMO^ZOË", "2026-11-25"]]
    path = write_csv(tmp_path / "site.csv", rows, encoding=encoding, prefix=prefix)
    config = {"file_path": str(path)} | ({"encoding": configured} if configured else {})
    assert as_data(fetch(config, fields=HEADER)) == [dict(zip(HEADER, rows[0], strict=True))]


def test_a_glob_merges_files_in_path_order(fetch, tmp_path: Path):
    write_csv(tmp_path / "b.csv", ROWS[1:])
    write_csv(tmp_path / "a.csv", ROWS[:1], delimiter=";")
    (tmp_path / "notes.txt").write_text("not matched")
    items = fetch({"file_path": str(tmp_path / "*.csv")}, fields=HEADER)
    assert [(item.data["patient_id"], item.location) for item in items] == [
        ("P001", "a.csv, line 2"),
        ("P002", "b.csv, line 2"),
    ]


def test_skip_rows_skips_lines_before_the_header(fetch, tmp_path: Path):
    path = write_csv(tmp_path / "export.csv", ROWS, prefix="Scanner bookings\r\nexported 2026-11-25\r\n")
    items = fetch({"file_path": str(path), "skip_rows": 2}, fields=HEADER)
    assert [item.location for item in items] == ["export.csv, line 4", "export.csv, line 5"]


def test_filter_equals_and_in(fetch, tmp_path: Path):
    path = tmp_path / "sites.csv"
    path.write_text("patient_id,site\nP1,A\nP2, B \nP3,C\n")
    equals = fetch({"file_path": str(path), "filter": {"column": "site", "equals": "B"}}, fields=["patient_id"])
    assert [item.data["patient_id"] for item in equals] == ["P2"]
    within = fetch({"file_path": str(path), "filter": {"column": "site", "in": ["A", "C"]}}, fields=["patient_id"])
    assert [item.data["patient_id"] for item in within] == ["P1", "P3"]


def test_blank_lines_are_skipped_and_quoted_newlines_kept(fetch, tmp_path: Path):
    path = tmp_path / "site.csv"
    path.write_text('patient_id,comment\n\nP1,"two\nlines"\nP2,x\n')
    items = fetch({"file_path": str(path)}, fields=["comment"])
    assert [(item.data["comment"], item.location) for item in items] == [
        ("two\nlines", "site.csv, line 3"),
        ("x", "site.csv, line 5"),
    ]


def test_rows_with_a_wrong_field_count_are_rejected_and_the_rest_lands(fetch, tmp_path: Path):
    path = tmp_path / "site.csv"
    path.write_text("patient_id,patient_name\nP1,DEMO^A\nP2\nP3,DEMO^C,extra\nP4,DEMO^D\n")
    items = fetch({"file_path": str(path)}, fields=["patient_id"])
    assert items == [
        Record({"patient_id": "P1", "patient_name": "DEMO^A"}, "site.csv, line 2"),
        Rejected("site.csv, line 3", "1 field(s), the header row has 2"),
        Rejected("site.csv, line 4", "3 field(s), the header row has 2"),
        Record({"patient_id": "P4", "patient_name": "DEMO^D"}, "site.csv, line 5"),
    ]


def test_undecodable_rows_are_rejected_with_their_line(fetch, tmp_path: Path):
    path = tmp_path / "site.csv"
    path.write_bytes(b"patient_id,patient_name\nP1,DEMO^A\nP2,D\xc9MO^B\nP3,DEMO^C\n")
    items = fetch({"file_path": str(path)}, fields=["patient_id"])
    assert [type(item) for item in items] == [Record, Rejected, Record]
    assert items[1].location == "site.csv, line 3"
    assert items[1].reason == "byte 0xc9 at position 5 is not valid utf-8; check config.encoding"


def test_a_field_too_large_for_the_csv_module_rejects_its_row_only(fetch, tmp_path: Path):
    path = tmp_path / "site.csv"
    path.write_text("patient_id,comment\nP1," + "x" * 200_000 + "\nP2,ok\n")
    items = fetch({"file_path": str(path)}, fields=["patient_id"])
    assert items == [
        Rejected("site.csv, line 2", "unreadable CSV row: field larger than field limit (131072)"),
        Record({"patient_id": "P2", "comment": "ok"}, "site.csv, line 3"),
    ]


def test_rows_across_read_blocks_keep_their_lines_and_their_decoding(fetch, tmp_path: Path):
    """The file is decoded in blocks of whole lines (``pylantir_csv.lines.BLOCK_BYTES``): rows that straddle a
    block, undecodable bytes in one block among valid ones and a byte-order mark at the start of a line read
    as if each line were decoded alone (the mark dropped, as at the start of the file)."""
    from pylantir_csv.lines import BLOCK_BYTES

    filler = "x" * 100
    lines = [b"patient_id,comment"]
    expected: list[tuple[str, str, int]] = []  # (kind, patient or reason start, line)
    number = 1
    while sum(len(line) + 1 for line in lines) < 3 * BLOCK_BYTES:
        number += 1
        if number % 997 == 0:
            lines.append(f"P{number},\"two\nlines {filler}\"".encode())  # a quoted newline: two physical lines
            expected.append(("record", f"P{number}", number))
            number += 1
        elif number % 1499 == 0:
            lines.append(f"P{number},D\xc9MO".encode("latin-1"))
            expected.append(("rejected", "byte 0xc9 at position", number))
        elif number % 1999 == 0:
            lines.append(f"\ufeffP{number},\"bom\r{filler}\"".encode())  # a mark to drop, a quoted CR kept
            expected.append(("record", f"P{number}", number))
        else:
            lines.append(f"P{number},{filler}".encode())
            expected.append(("record", f"P{number}", number))
    path = tmp_path / "site.csv"
    path.write_bytes(b"\n".join(lines) + b"\n")
    items = fetch({"file_path": str(path)}, fields=["patient_id"])
    seen = [("record", item.data["patient_id"], int(item.location.rsplit(" ", 1)[1])) if isinstance(item, Record)
            else ("rejected", item.reason[:len("byte 0xc9 at position")], int(item.location.rsplit(" ", 1)[1]))
            for item in items]
    assert seen == expected
    assert sum(kind == "rejected" for kind, _, _ in seen) >= 2
    bom_row = next(item for item in items if isinstance(item, Record) and item.data["comment"].startswith("bom"))
    assert bom_row.data["comment"] == f"bom\r{filler}"
