"""The example configuration: ``pylantir config example`` (valid JSON, installed types only) and
``pylantir config example --commented`` (the annotated template).

JSON has no comments: the template's comment lines start with ``//`` and must be deleted before use
(:func:`strip_comments` does exactly that); what remains is a valid configuration file.
"""

from __future__ import annotations

import json

EXAMPLE_CONFIG = """\
// Pylantir configuration example. JSON has no comments: delete every line starting with // before use
// (e.g. pylantir config example | grep -v '^ *//' > pylantir.json), then check it with
// pylantir config check pylantir.json
{
  // The DICOM side: our AE title, where we listen, whom we answer (omit allowed_aets to answer anyone).
  "server": {
    "ae_title": "PYLANTIR",
    "host": "0.0.0.0",
    "port": 11112,
    "allowed_aets": ["MRI_SCANNER"],
    // Scheduled procedure step statuses offered on the worklist.
    "worklist_statuses": ["SCHEDULED", "ARRIVED", "READY", "STARTED"]
  },
  // Any SQLAlchemy URL; PYLANTIR_DATABASE_URL overrides it (e.g. postgresql+psycopg2://user@host/db).
  "database_url": "sqlite:///worklist.sqlite",
  // Also load every *.py source plugin in this directory (optional).
  "plugins_dir": null,
  // Site time zone (IANA name): operation intervals and "today" are read in it.
  "timezone": "America/Edmonton",
  "data_sources": [
    {
      // Unique name, stored with every worklist entry it produces.
      "name": "site_a_redcap",
      "type": "redcap",
      "enabled": true,
      // Seconds between syncs, only inside the daily window [hour, minute] (may cross midnight).
      "sync_interval": 60,
      "operation_interval": {"start_time": [6, 0], "end_time": [20, 0]},
      // Checked by the plugin (pylantir config check); secrets are named, never written here.
      "config": {
        "api_url_env": "REDCAP_API_URL",
        "api_token_env": "REDCAP_API_TOKEN",
        "site_id": "792",
        "protocol": "BRAIN_MRI_3T"
      },
      // "source field": "worklist field", or "worklist field": {"from" | "template" | "value": ...}.
      "field_mapping": {
        "patient_id": {"template": "sub_{study_id}_ses_{mri_instance}"},
        "patient_name": {"template": "{last_name}^{first_name}"},
        "dob": "patient_birth_date",
        "patient_sex": {"from": "demo_sex", "map": {"1": "F", "2": "M"}},
        "mri_date": "scheduled_start_date",
        "mri_time": "scheduled_start_time",
        "modality": {"value": "MR"}
      }
    },
    {
      "name": "site_b_csv",
      "type": "csv",
      "sync_interval": 300,
      "config": {"file_path": "/data/worklist_imports/site_b.csv"},
      "field_mapping": {
        "patient_id": "patient_id",
        "name": "patient_name",
        "dob": "patient_birth_date",
        "sex": "patient_sex",
        "scan_date": "scheduled_start_date",
        "scan_time": "scheduled_start_time",
        "modality": "modality"
      }
    }
  ]
}
"""


def strip_comments(text: str) -> str:
    """Delete the ``//`` comment lines of :data:`EXAMPLE_CONFIG`, leaving plain JSON."""
    return "".join(
        line for line in text.splitlines(keepends=True) if not line.lstrip().startswith("//")
    )


#: The distribution that provides each source type of the example.
EXAMPLE_PLUGINS = {"redcap": "pylantir-redcap", "csv": "pylantir-csv"}


def installed_example(installed_types: set[str]) -> tuple[str, list[tuple[str, str]]]:
    """The example as plain JSON with only the sources of ``installed_types``, and the ``(source, plugin)``
    of each one left out."""
    example = json.loads(strip_comments(EXAMPLE_CONFIG))
    kept, missing = [], []
    for source in example["data_sources"]:
        if source["type"] in installed_types:
            kept.append(source)
        else:
            missing.append((source["name"], EXAMPLE_PLUGINS[source["type"]]))
    example["data_sources"] = kept
    return json.dumps(example, indent=2), missing
