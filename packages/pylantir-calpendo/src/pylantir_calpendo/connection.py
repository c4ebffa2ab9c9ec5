"""HTTP to one Calpendo server (requests, basic auth), with every failure turned into a clear source error.

The user and password come from the environment variables the config names and go only into the
``Authorization`` header (requests drops it on a redirect to another host). They never appear in a
message: messages name the variables, and the server's own error text, the one thing quoted, has both
values blanked should a server ever echo them back.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal

import requests

from pylantir import SourceError, TransientSourceError
from pylantir_calpendo.config import CalpendoConfig

_DETAIL_CHARS = 200


class CalpendoConnection:
    """A requests session on ``base_url + api_path`` for one source, and the translation of its failures."""

    def __init__(self, source_name: str, cfg: CalpendoConfig, environ: Mapping[str, str] | None = None):
        env = os.environ if environ is None else environ
        self.source_name = source_name
        self.cfg = cfg
        self.root = cfg.base_url + cfg.api_path
        self._credentials = (self._variable(env, "username_env"), self._variable(env, "password_env"))
        self.session = requests.Session()
        self.session.auth = self._credentials
        self.session.headers["Accept"] = "application/json"

    def _variable(self, env: Mapping[str, str], key: Literal["username_env", "password_env"]) -> str:
        value = env.get(getattr(self.cfg, key), "")
        if not value:
            raise self.error(f"environment variable {self.cfg.variable_label(key)} is not set")
        return value

    def error(self, message: str, kind: type[SourceError] = SourceError) -> SourceError:
        """A source error naming this source (``message`` never holds a credential)."""
        return kind(f"source '{self.source_name}' (Calpendo): {message}")

    def get_json(self, what: str, path: str, params: Mapping[str, str] | None = None,
                 missing_ok: bool = False) -> Any:
        """GET ``root + path`` and decode its JSON; ``None`` for a 404 when ``missing_ok``.

        ``what`` says what the request is for ("querying bookings"), for messages.
        """
        url = self.root + path
        try:
            response = self.session.get(url, params=params, timeout=self.cfg.timeout)
        except requests.exceptions.SSLError:
            raise self.error(f"{what}: the TLS certificate of {self.cfg.base_url} could not be verified "
                             "(a private CA's certificates go in REQUESTS_CA_BUNDLE)") from None
        except requests.Timeout:
            raise self.error(f"{what}: no answer from {url} within {self.cfg.timeout:g} s",
                             TransientSourceError) from None
        except requests.ConnectionError:
            raise self.error(f"{what}: cannot connect to {self.cfg.base_url}", TransientSourceError) from None
        except requests.RequestException as exc:
            raise self.error(f"{what}: request to {url} failed ({type(exc).__name__})") from None
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code >= 400:
            raise self._status_error(what, url, response)
        try:
            return response.json()
        except requests.JSONDecodeError:
            kind = response.headers.get("Content-Type", "no content type")
            raise self.error(f"{what}: {url} did not answer JSON ({kind}); check base_url and api_path "
                             "('/api' for Calpendo 11 and later, '/webdav' for older servers)") from None

    def _status_error(self, what: str, url: str, response: requests.Response) -> SourceError:
        status = response.status_code
        user, password = self.cfg.variable_label("username_env"), self.cfg.variable_label("password_env")
        if status == 401:
            return self.error(f"{what}: {url} refused the user and password in {user} and {password} "
                              "(HTTP 401); check both")
        if status == 403:
            return self.error(f"{what}: the Calpendo user in {user} may not read {url} (HTTP 403); "
                              "check its permissions in Calpendo")
        if status == 404:
            return self.error(f"{what}: {url} is not a Calpendo API (HTTP 404); check base_url and api_path "
                              "('/api' for Calpendo 11 and later, '/webdav' for older servers)")
        detail = " ".join(response.text.split())
        for secret in self._credentials:
            detail = detail.replace(secret, "***")
        detail = detail[:_DETAIL_CHARS] or "(empty answer)"
        kind = TransientSourceError if status >= 500 else SourceError
        return self.error(f"{what}: {url} answered HTTP {status}: {detail}", kind)

    def close(self) -> None:
        """Close the session's connections."""
        self.session.close()
