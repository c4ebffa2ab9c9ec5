"""The worklist over DICOMweb (PS3.18 chapters 14 and 15), apart from HTTP itself.

:mod:`.search` turns the Search Transaction's query parameters into a C-FIND identifier (answered by the same
matching and response code as C-FIND); :mod:`.payload` reads and writes the DICOM JSON model (PS3.18 F.2) and
the Native DICOM Model XML (PS3.19). The HTTP routes are :mod:`pylantir.http.dicomweb`.
"""
