""":mod:`pylantir.datadict` reads pydicom's data dictionary without importing pydicom: it must give what
pydicom's own lookups give, for every keyword."""

from __future__ import annotations

import subprocess
import sys

from pydicom.datadict import dictionary_description, dictionary_VM, dictionary_VR, keyword_dict

from pylantir import datadict


def test_every_keyword_has_pydicoms_tag_vr_vm_and_name() -> None:
    assert len(keyword_dict) > 4000
    for keyword, tag in keyword_dict.items():
        if not keyword:
            continue
        assert datadict.is_keyword(keyword)
        assert datadict.keyword_tag(keyword) == tag
        assert (datadict.keyword_vr(keyword), datadict.keyword_vm(keyword), datadict.keyword_name(keyword)) == (
            dictionary_VR(tag), dictionary_VM(tag), dictionary_description(tag)), keyword


def test_an_unknown_keyword_is_not_in_it() -> None:
    assert not datadict.is_keyword("PatientsFavouriteColour")
    assert datadict.keyword_tag("PatientsFavouriteColour") is None


def test_reading_it_does_not_import_pydicom() -> None:
    probe = ("import sys; from pylantir import datadict; "
             "print(datadict.keyword_vr('PatientName'), 'pydicom' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                          timeout=60).stdout == "PN False\n"
