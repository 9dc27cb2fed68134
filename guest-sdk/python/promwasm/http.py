"""Outbound HTTP, limited by the host to the workers, `middle_server_url` and
`allowed_hosts`.

    response = http.post(me.endpoint("task"), json={"stakingKey": key}, timeout_ms=5000)
    response.raise_for_status().json()

Any status is a response; failing to get one raises StepError
(`not allowed: ...`, `timed out: ...`, `response too large: ...`, `request failed: ...`).
"""

from componentize_py_types import Err
from wit_world.imports import http as _imp

from . import _json
from .errors import StepError

QUOTED_BODY = 500
"""How many characters of a response body error messages quote."""

_ERRORS = {
    _imp.HttpError_NotAllowed: "not allowed",
    _imp.HttpError_Timeout: "timed out",
    _imp.HttpError_TooLarge: "response too large",
    _imp.HttpError_Transport: "request failed",
}


def get(url, **options):
    """A `GET` request; see `request`."""
    return request("GET", url, **options)


def post(url, **options):
    """A `POST` request; see `request`."""
    return request("POST", url, **options)


def request(method, url, *, json=None, body=None, headers=(), timeout_ms=None):
    """Send a request and return its `Response`.

    `json` is sent as a JSON body (with `content-type: application/json`),
    `body` as bytes or text; `headers` is a dict or a list of pairs;
    `timeout_ms` defaults to the step's remaining time.
    """
    headers = list(headers.items() if isinstance(headers, dict) else headers)
    if json is not None:
        headers = [(n, v) for n, v in headers if n.lower() != "content-type"]
        headers.append(("content-type", "application/json"))
        body = _json.dumps(json, "request body")
    if isinstance(body, str):
        body = body.encode()
    sent = _imp.Request(method.upper(), url, headers, body, timeout_ms)
    try:
        got = _imp.send(sent)
    except Err as e:
        raise StepError(f"{_ERRORS[type(e.value)]}: {e.value.value}") from None
    return Response(url, got.status, list(got.headers), bytes(got.body))


class Response:
    """An HTTP response: `url` requested, `status`, `headers` (pairs), `body` (bytes)."""

    def __init__(self, url, status, headers, body):
        self.url = url
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def ok(self):
        """Whether the status is 2xx."""
        return 200 <= self.status < 300

    def header(self, name):
        """The first header called `name` (case-insensitive), or None."""
        return next((v for n, v in self.headers if n.lower() == name.lower()), None)

    def text(self):
        """The body as text (invalid UTF-8 replaced)."""
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        """The body parsed as JSON; a StepError quoting it when it is not JSON."""
        try:
            return _json.loads(self.text())
        except StepError as e:
            quoted = _json.dumps(_truncate(self.text()))
            raise StepError(
                f"HTTP {self.status} from {self.url}: unexpected body {quoted}: {e}"
            ) from None

    def raise_for_status(self):
        """`self` when the status is 2xx, else a StepError with the start of the body."""
        if not self.ok:
            body = _truncate(self.text().strip())
            raise StepError(f"HTTP {self.status} from {self.url}: {body}")
        return self

    def __repr__(self):
        return f"Response({self.status}, {self.url!r})"


def _truncate(text):
    return text if len(text) <= QUOTED_BODY else text[:QUOTED_BODY] + "…"
