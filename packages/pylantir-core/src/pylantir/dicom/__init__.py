"""The DICOM side: Modality Worklist C-FIND, MPPS N-CREATE/N-SET and C-ECHO over pynetdicom.

``start_server(config, database)`` runs the server in-process and returns a ``RunningServer``.
"""

from pylantir.dicom.server import RunningServer, ServerStartError, start_server

__all__ = ["RunningServer", "ServerStartError", "start_server"]
