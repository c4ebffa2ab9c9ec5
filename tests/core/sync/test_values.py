"""DICOM value normalisation."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from pylantir.sync import values


@pytest.mark.parametrize(
    "raw",
    ["1990-01-31", "19900131", "31/01/1990", "31.01.1990", "1990/01/31", "1990-01-31T10:20:00",
     date(1990, 1, 31), datetime(1990, 1, 31, 8, 0), 633787200, "633787200", 19900131],
)
def test_dates_become_dicom(raw: object) -> None:
    assert values.to_date(raw) == "19900131"


def test_input_formats_settle_month_first_dates() -> None:
    assert values.to_date("01/31/1990", ["%m/%d/%Y"]) == "19900131"
    with pytest.raises(ValueError):
        values.to_date("01/31/1990")  # day first by default: month 31 does not exist


@pytest.mark.parametrize("raw", ["31/02/1990", "tomorrow", "1990-13-01"])
def test_impossible_dates_are_refused_without_quoting_them(raw: str) -> None:
    with pytest.raises(ValueError) as error:
        values.to_date(raw)
    assert raw not in str(error.value)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("14:30", "143000"), ("9:05:07", "090507"), ("1430", "143000"), ("143015.25", "143015.25"),
     ("2026-01-01T07:45:00", "074500")],
)
def test_times_become_dicom(raw: str, expected: str) -> None:
    assert values.to_time(raw) == expected


def test_impossible_time_is_refused() -> None:
    with pytest.raises(ValueError):
        values.to_time("25:00")


def test_datetime_and_timestamp() -> None:
    assert values.to_datetime("2026-03-04T05:06:07") == "20260304050607"
    stamp = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC).timestamp()
    assert values.to_datetime(stamp) == "20260304050607"


@pytest.mark.parametrize(
    ("raw", "order", "expected"),
    [("John Smith", "given_family", "Smith^John"), ("John  Q Smith", "given_family", "Smith^John^Q"),
     ("Smith, John", "given_family", "Smith^John"), ("Smith^John", "given_family", "Smith^John"),
     ("Smith John", "family_given", "Smith^John"), ("Cher", "given_family", "Cher")],
)
def test_person_names(raw: str, order: str, expected: str) -> None:
    assert values.to_person_name(raw, order) == expected


def test_sex_weight_and_numbers() -> None:
    assert [values.to_sex(v) for v in ("female", "M", " o ")] == ["F", "M", "O"]
    with pytest.raises(values.ValueProblem):
        values.to_sex("2")
    assert values.pounds_to_kg("150") == 68.0
    assert values.to_number("72,5") == 72.5


@pytest.mark.parametrize(("raw", "number"), [("4", 4), (" -12 ", -12), (7, 7), (3.0, 3)])
def test_integers_for_the_binary_vrs(raw: object, number: int) -> None:
    assert values.to_integer(raw) == number


@pytest.mark.parametrize("raw", ["4.5", "four", True, 2.5, [1]])
def test_what_is_no_integer_is_refused(raw: object) -> None:
    with pytest.raises(values.ValueProblem):
        values.to_integer(raw)


@pytest.mark.parametrize("raw", ["(0010,0020)", "00100020", "0010,0020", "PatientID", 0x00100020])
def test_tags_in_every_written_form(raw: object) -> None:
    assert values.to_tag(raw) == 0x00100020


def test_each_value_of_a_multi_valued_field() -> None:
    column = values.each_value(values.to_text, joined=True)
    extra = values.each_value(values.to_number, joined=False)
    assert column(" AA32 \\AA33") == column(["AA32", "AA33"]) == "AA32\\AA33"
    assert column("\\") is None
    assert extra("1\\2,5") == [1.0, 2.5] and extra("7") == 7.0 and extra([]) is None


def test_a_list_for_a_field_of_one_value_is_refused() -> None:
    for normalise in (values.to_text, values.to_upper, values.to_person_name, values.to_number):
        with pytest.raises(values.ValueProblem, match="several values"):
            normalise(["a", "b"])


@pytest.mark.parametrize("raw", ["11/02/1971", "11.02.1971", "01/31/1990", "02/13/1971"])
def test_day_and_month_are_never_guessed_and_the_fix_is_named(raw: str) -> None:
    with pytest.raises(ValueError) as error:
        values.to_date(raw)
    message = str(error.value)
    assert "not declared" in message and values.DATE_FIX in message
    assert raw not in message


@pytest.mark.parametrize(("raw", "expected"), [("31/01/1990", "19900131"), ("05.05.1990", "19900505")])
def test_an_undeclared_order_reads_dates_that_have_one_reading(raw: str, expected: str) -> None:
    assert values.to_date(raw) == expected


@pytest.mark.parametrize(
    ("raw", "order", "expected"),
    [("11/02/1971", "day_first", "19710211"), ("11/02/1971", "month_first", "19711102"),
     ("11.02.1971", "month_first", "19711102"), ("31/01/1990", "day_first", "19900131"),
     ("1990/01/31", "month_first", "19900131"), ("1990-01-31", "month_first", "19900131")],
)
def test_a_declared_order_reads_year_last_dates(raw: str, order: str, expected: str) -> None:
    assert values.to_date(raw, date_order=order) == expected


def test_a_date_impossible_in_the_declared_order_is_refused_naming_the_fix() -> None:
    with pytest.raises(ValueError, match=r"not a valid date .*input_formats"):
        values.to_date("31/01/1990", date_order="month_first")


@pytest.mark.parametrize("raw", ["11/02/71", "11.02.71", "11-02-71"])
def test_two_digit_years_are_refused_unless_input_formats_read_them(raw: str) -> None:
    with pytest.raises(ValueError, match=r"two-digit year.*\"input_formats\": \[\"%m/%d/%y\"\]"):
        values.to_date(raw, date_order="month_first")
    assert values.to_date(raw.replace("-", "/").replace(".", "/"), ["%m/%d/%y"]) == "19711102"


@pytest.mark.parametrize("raw", ["yesterday", "1990-13-01", "31/02/1990"])
def test_every_date_refusal_names_input_formats(raw: str) -> None:
    with pytest.raises(ValueError, match=r"input_formats"):
        values.to_date(raw)
