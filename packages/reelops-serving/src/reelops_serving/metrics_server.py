"""``/metrics`` on a port of its own, away from the API port and its ingress.

``reelops_model_info`` names the git commit and MLflow run of the served model,
and BentoML's ``/metrics`` is public on the API port: with ``metrics.port`` set,
every worker serves the merged metrics (:func:`~reelops_serving.metrics.render_metrics`)
on that port from a small WSGI server in a daemon thread, and the API port answers
``/metrics`` with a 404. The Service exposes only the API port; the NetworkPolicy
admits only the monitoring namespace to the metrics port, which the pod's
Prometheus annotations name. Workers bind the port with ``SO_REUSEPORT``: any of
them answers a scrape with every worker's samples, and a restarted worker binds
it again.
"""

from __future__ import annotations

import logging
import socket
import threading
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from prometheus_client import CONTENT_TYPE_LATEST

from reelops_serving.errors import ServingConfigError
from reelops_serving.metrics import render_metrics

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

__all__ = ["MetricsServer"]

logger = logging.getLogger(__name__)


class _Server(ThreadingMixIn, WSGIServer):
    allow_reuse_port = True
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    timeout = 10  # a scrape that stalls does not hold a thread

    def log_message(self, format: str, *args: Any) -> None:
        """No access log (BentoML's is off too)."""


def _metrics_app(
    environ: dict[str, Any], start_response: Callable[..., Any]
) -> Iterable[bytes]:
    if environ.get("PATH_INFO") != "/metrics":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found: scrape /metrics\n"]
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
        start_response("405 Method Not Allowed", [("Allow", "GET, HEAD")])
        return [b""]
    body = render_metrics()
    start_response(
        "200 OK",
        [("Content-Type", CONTENT_TYPE_LATEST), ("Content-Length", str(len(body)))],
    )
    return [body]


class MetricsServer:
    """Serve ``GET /metrics`` on ``host:port`` from a daemon thread.

    Args:
        host: Address to bind (``0.0.0.0`` in a pod).
        port: TCP port.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> MetricsServer:
        """Bind the port and serve; returns ``self``.

        Raises:
            ServingConfigError: The port cannot be bound (taken by another user's
                process, or not an address of this host).
        """
        server_class = _Server6 if ":" in self.host else _Server
        try:
            server = server_class((self.host, self.port), _QuietHandler)
        except OSError as exc:
            raise ServingConfigError(
                f"metrics.port: cannot serve /metrics on {self.host}:{self.port} "
                f"({exc.strerror or exc})"
            ) from exc
        server.set_app(_metrics_app)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.5},
            name="reelops-metrics",
            daemon=True,
        )
        self._thread.start()
        logger.info("serving /metrics on %s:%d", self.host, self.port)
        return self

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None
