"""Talking to one REDCap project through PyCap, with every failure turned into a clear source error.

The URL and token come from the environment variables the config names. The token never appears in
a message: every message is built here and passes through :meth:`RedcapConnection.error`, which also
blanks the token should a server ever echo it back.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal, TypeVar

import requests

from pylantir import SourceError, TransientSourceError
from pylantir_redcap.config import RedcapConfig

T = TypeVar("T")

_TOKEN_LENGTH = 32  # what REDCap issues and PyCap insists on
_XML_ERROR = re.compile(r"<error>(.*?)</error>", re.DOTALL | re.IGNORECASE)


class _HttpStatusError(Exception):
    """Raised from the response hook for a 4xx/5xx answer, before PyCap looks at the body."""

    def __init__(self, status: int, detail: str):
        super().__init__(status, detail)
        self.status = status
        self.detail = detail


def _error_detail(response: requests.Response) -> str:
    """REDCap's own error text from a JSON or XML error payload, else the start of the body."""
    text = response.text.strip()
    try:
        payload = json.loads(text)
    except ValueError:
        payload = None
    if isinstance(payload, dict) and "error" in payload:
        return str(payload["error"])
    match = _XML_ERROR.search(text)
    if match:
        return match.group(1).strip()
    return text[:200] or "(empty answer)"


def _raise_for_status(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """requests response hook: 4xx/5xx answers never reach PyCap's JSON decoding."""
    if response.status_code >= 400:
        raise _HttpStatusError(response.status_code, _error_detail(response))


class RedcapConnection:
    """A PyCap :class:`redcap.Project` for one source, and the translation of its failures."""

    def __init__(self, source_name: str, cfg: RedcapConfig, environ: Mapping[str, str] | None = None):
        env = os.environ if environ is None else environ
        self.source_name = source_name
        self.cfg = cfg
        self._token = ""
        self.url = self._variable(env, "api_url_env")
        self._token = self._variable(env, "api_token_env")
        if not self.url.endswith("/api/"):
            raise self.error(
                f"{cfg.env_label('api_url_env')}={self.url} is not a REDCap API URL (it must end with /api/)"
            )
        if len(self._token) != _TOKEN_LENGTH:
            raise self.error(
                f"the value of {cfg.env_label('api_token_env')} is not a REDCap API token "
                f"(expected {_TOKEN_LENGTH} characters)"
            )
        from redcap import Project  # PyCap: imported when a source talks to REDCap, not when the plugin loads

        self.project = Project(
            self.url, self._token, timeout=cfg.timeout, hooks={"response": [_raise_for_status]}
        )

    def _variable(self, env: Mapping[str, str], key: Literal["api_url_env", "api_token_env"]) -> str:
        value = env.get(getattr(self.cfg, key), "").strip()
        if not value:
            raise self.error(f"environment variable {self.cfg.env_label(key)} is not set")
        return value

    def error(self, message: str, kind: type[SourceError] = SourceError) -> SourceError:
        """A source error naming this source, with the token blanked out."""
        text = f"source '{self.source_name}' (REDCap): {message}"
        if self._token:
            text = text.replace(self._token, "***")
        return kind(text)

    def call(self, what: str, action: Callable[[], T]) -> T:
        """Run one API call (``what`` says which, for messages) and translate any failure."""
        with self._translated(what):
            return action()

    @contextmanager
    def _translated(self, what: str) -> Iterator[None]:
        try:
            yield
        except _HttpStatusError as exc:
            raise self._status_error(what, exc) from None
        except requests.Timeout:
            raise self.error(
                f"{what}: no answer from {self.url} within {self.cfg.timeout:g} s", TransientSourceError
            ) from None
        except requests.ConnectionError:
            raise self.error(f"{what}: cannot connect to {self.url}", TransientSourceError) from None
        except requests.JSONDecodeError:
            raise self.error(
                f"{what}: {self.url} answered with malformed JSON (is it the REDCap API URL?)"
            ) from None
        except requests.RequestException as exc:  # PyCap's RedcapError: an error payload
            raise self.error(f"{what}: REDCap answered with an error: {_payload_text(exc)}") from None

    def _status_error(self, what: str, exc: _HttpStatusError) -> SourceError:
        if exc.status in (401, 403):
            return self.error(
                f"{what}: REDCap refused the API token in {self.cfg.env_label('api_token_env')} "
                f"(HTTP {exc.status}: {exc.detail})"
            )
        if exc.status == 404:
            return self.error(
                f"{what}: {self.url} is not a REDCap API (HTTP 404); check {self.cfg.env_label('api_url_env')}"
            )
        kind = TransientSourceError if exc.status >= 500 else SourceError
        return self.error(f"{what}: REDCap answered HTTP {exc.status}: {exc.detail}", kind)


def _payload_text(exc: requests.RequestException) -> str:
    content = exc.args[0] if exc.args else exc
    if isinstance(content, dict) and "error" in content:
        return str(content["error"])
    return str(content)[:200]
