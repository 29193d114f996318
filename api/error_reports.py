"""Error reporting to Sentry (``LFS_SENTRY_DSN``) for the API and the worker, personal data out.

What an event may carry is decided here, not left to the SDK's defaults:

* no default personal data (``send_default_pii=False``: no user IP, cookies, headers);
* no automatic web framework integration: the API reports its 500s itself (``api.errors``
  calls :func:`report_error`), and :mod:`api.observe` adds the method, the route template,
  the request id and the user id only (no URL query, header or body);
* no local variables in stack frames, no breadcrumbs (log messages and HTTP calls before the
  error may quote values);
* :func:`scrub` runs on every event last: it drops any request headers, cookies, query string
  and body that got in, replaces exception messages (which may quote a statement's parameters
  or the input refused) with what ``api.logsafe.describe`` keeps, and keeps a log event's
  message template without its arguments.
"""

from __future__ import annotations

from typing import Any, cast

import sentry_sdk
from sentry_sdk.integrations.logging import ignore_logger
from sentry_sdk.types import Event, Hint

from api.logsafe import describe
from api.settings import Settings
from api.version import __version__

_REQUEST_KEEP = ("method", "url")


def scrub(sent: Event, hint: Hint) -> Event:
    """The event without tokens, passwords, bodies or the values exceptions quote."""
    event = cast(dict[str, Any], sent)  # edited as the plain dict it is
    request = event.get("request")
    if isinstance(request, dict):
        url = str(request.get("url") or "").split("?", 1)[0]
        event["request"] = {k: v for k, v in request.items() if k in _REQUEST_KEEP}
        if url:
            event["request"]["url"] = url
    exc_info = hint.get("exc_info")
    for i, value in enumerate((event.get("exception") or {}).get("values") or []):
        # The outermost exception is last; Sentry lists the chain innermost first.
        outermost = i == len(event["exception"]["values"]) - 1
        if outermost and exc_info and exc_info[1] is not None:
            value["value"] = describe(exc_info[1])
        else:
            value["value"] = value.get("type") or ""
    entry = event.get("logentry")
    if isinstance(entry, dict):
        event["logentry"] = {"message": entry.get("message")}
    event.pop("breadcrumbs", None)
    extra = event.get("extra")
    if isinstance(extra, dict):
        extra.pop("sys.argv", None)  # a command line may hold a password (users create)
    # The SDK's notes on what it trimmed, written before this scrub: about fields now gone.
    event.pop("_meta", None)
    return sent


def init_error_reports(settings: Settings, component: str) -> bool:
    """Turn Sentry on for this process when ``LFS_SENTRY_DSN`` is set; whether it is on."""
    if settings.sentry_dsn is None:
        return False
    sentry_sdk.init(
        dsn=settings.sentry_dsn.get_secret_value(),
        environment=settings.environment,
        release=f"leadfactory@{__version__}",
        server_name=component,  # not the host name
        send_default_pii=False,
        include_local_variables=False,
        max_breadcrumbs=0,
        max_request_body_size="never",
        auto_enabling_integrations=False,
        traces_sample_rate=0.0,
        before_send=scrub,
    )
    sentry_sdk.set_tag("component", component)
    # The lines logged about an error the API reports itself (report_error): one report per
    # error, with its exception, not a second one made of its log line.
    for logger in ("uvicorn.error", "api.errors"):
        ignore_logger(logger)
    return True


def report_error(exc: BaseException) -> None:
    """Report an unexpected error (a 500) when Sentry is on; the request's details are added by
    ``api.observe``."""
    if sentry_sdk.get_client().is_active():
        sentry_sdk.capture_exception(exc)
