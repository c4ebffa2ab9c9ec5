"""Write the demo's scheduling exports, with exams scheduled around today, and its configuration into a directory.

Usage: python examples/demo/make_demo_data.py [--out DIR]   (default: the current directory)

Writes ``demo-bookings.csv`` (a flat export, as a RIS or a spreadsheet makes) and ``demo-bookings.json``
(nested records under ``bookings``, as a booking system's API returns) with clearly fake patients, and a
copy of ``examples/demo/config.json``, which reads both (and keeps its SQLite file) beside itself: relative
paths in a configuration start at its directory. Standard library only, so it runs before anything is
installed.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
from datetime import date, timedelta
from pathlib import Path

CONFIG = Path(__file__).with_name("config.json")
CSV_NAME = "demo-bookings.csv"
JSON_NAME = "demo-bookings.json"

# (day offset from today, time, MRN, name, birth date, sex, modality, station AE title, description)
CSV_BOOKINGS = [
    (0, "08:30", "DEMO0001", "DEMO^ALICE", "1984-03-14", "F", "MR", "MRI_3T", "Brain MRI without contrast"),
    (0, "09:15", "DEMO0002", "DEMO^BOB", "1971-11-02", "M", "MR", "MRI_3T", "Knee MRI, left"),
    (0, "11:00", "DEMO0003", "DEMO^CAROL", "1995-07-21", "F", "CT", "CT_ROOM1", "CT chest low dose"),
    (0, "14:45", "DEMO0004", "DEMO^DAVID", "2001-01-09", "M", "MR", "MRI_3T", "Research protocol, session 2"),
    (1, "10:00", "DEMO0005", "DEMO^ERIN", "1960-05-30", "F", "CT", "CT_ROOM1", "CT abdomen with contrast"),
    (-1, "16:20", "DEMO0006", "DEMO^FRANK", "1988-09-12", "M", "MR", "MRI_3T", "Spine MRI, lumbar"),
]

# (day offset, time, MRN, family, given, birth date, sex, modality, room, description, study, visit)
JSON_BOOKINGS = [
    (0, "10:30", "DEMO1001", "DEMO", "GRACE", "1979-02-28", "F", "MR", "MRI_7T", "Functional MRI", "NEURO7", "1"),
    (0, "13:00", "DEMO1002", "DEMO", "HEIDI", "1992-12-05", "F", "MR", "MRI_7T", "Diffusion MRI", "NEURO7", "2"),
    (0, "15:30", "DEMO1003", "DEMO", "IVAN", "1966-06-17", "M", "EEG", "EEG_LAB", "Resting-state EEG", "SLEEP", "1"),
    (2, "09:00", "DEMO1004", "DEMO", "JUDY", "2004-08-08", "F", "MR", "MRI_7T", "Functional MRI", "NEURO7", "1"),
]


def write_csv(path: Path, today: date) -> None:
    """The flat export: one row per exam, ``;``-separated as many European exports are."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(["MRN", "Patient Name", "Birth Date", "Sex", "Modality", "Station", "Exam Date",
                         "Exam Time", "Exam", "Accession"])
        for number, (offset, time, mrn, name, birth, sex, modality, station, exam) in enumerate(CSV_BOOKINGS, 1):
            day = (today + timedelta(days=offset)).isoformat()
            writer.writerow([mrn, name, birth, sex, modality, station, day, time, exam, f"ACC{number:05d}"])


def write_json(path: Path, today: date) -> None:
    """The nested export: ``{"exported": ..., "bookings": [{"patient": {...}, "slot": {...}}, ...]}``."""
    bookings = [
        {
            "booking_id": f"BK-{number:04d}",
            "patient": {"mrn": mrn, "family": family, "given": given, "birth_date": birth, "sex": sex},
            "slot": {"date": (today + timedelta(days=offset)).isoformat(), "time": time, "room": room},
            "exam": {"modality": modality, "description": exam, "study": study, "visit": visit},
        }
        for number, (offset, time, mrn, family, given, birth, sex, modality, room, exam, study, visit) in enumerate(
            JSON_BOOKINGS, 1
        )
    ]
    document = {"exported": today.isoformat(), "system": "Demo booking system", "bookings": bookings}
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("."), help="directory to write into (default: .)")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    today = date.today()
    write_csv(out / CSV_NAME, today)
    write_json(out / JSON_NAME, today)
    shutil.copyfile(CONFIG, out / CONFIG.name)
    print(f"wrote {out / CSV_NAME} and {out / JSON_NAME} with exams scheduled around {today.isoformat()}, "
          f"and {out / CONFIG.name}")


if __name__ == "__main__":
    main()
