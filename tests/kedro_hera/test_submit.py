"""Submission through Hera's WorkflowsService, against a stand-in Argo server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from kedro.framework.startup import bootstrap_project

from kedro_hera.cli import commands
from kedro_hera.config import ServerConfig
from kedro_hera.errors import SubmitError
from kedro_hera.parameters import decode_value
from kedro_hera.submit import server_settings

from .conftest import BASIC

WORKFLOW_NAME = "kh-basic-train-x7k2p"


@dataclass
class StandIn:
    """What the stand-in Argo server received and will answer."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    phases: list[str] = field(default_factory=lambda: ["Running", "Succeeded"])
    message: str = ""


def _handler(state: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _reply(self, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length))
            state.requests.append(
                {
                    "method": "POST",
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": body,
                }
            )
            namespace = self.path.rsplit("/", 1)[-1]
            self._reply(
                {
                    "metadata": {"name": WORKFLOW_NAME, "namespace": namespace},
                    "spec": body["workflow"]["spec"],
                }
            )

        def do_GET(self) -> None:
            state.requests.append({"method": "GET", "path": self.path})
            phase = state.phases.pop(0) if len(state.phases) > 1 else state.phases[0]
            status: dict[str, Any] = {"phase": phase}
            if state.message:
                status["message"] = state.message
            self._reply(
                {"metadata": {"name": WORKFLOW_NAME}, "spec": {}, "status": status}
            )

        def log_message(self, *args: Any) -> None:
            """Keep the test output quiet."""

    return Handler


@pytest.fixture
def argo_server() -> Iterator[StandIn]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(StandIn(url="")))
    state = StandIn(url=f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = _handler(state)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _submit(*args: str) -> Any:
    metadata = bootstrap_project(BASIC)
    return CliRunner().invoke(
        commands,
        ["argo", "submit", "--env", "prod", "--pipeline", "train", *args],
        obj=metadata,
    )


def test_submit_sends_the_template_reference_and_overrides_only(
    argo_server: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a token in the environment
    monkeypatch.setenv("ARGO_TOKEN", "s3cr3t")
    # WHEN submitting with two overrides (one typed as JSON)
    result = _submit(
        "--server",
        argo_server.url,
        "--param",
        "candidates.popularity.top_k=25",
        "--param",
        'metrics.names=["coverage_score", "hit,rate", "ndcg"]',
    )
    # THEN the body holds exactly the compiled template reference and the overrides
    assert result.exit_code == 0, result.output
    (request,) = argo_server.requests
    assert request["path"] == "/api/v1/workflows/kh-basic-prod"
    assert request["headers"]["Authorization"] == "Bearer s3cr3t"
    assert request["body"] == {
        "workflow": {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Workflow",
            "metadata": {
                "generateName": "kh-basic-train-",
                "namespace": "kh-basic-prod",
            },
            "spec": {
                "arguments": {
                    "parameters": [
                        {"name": "candidates__popularity__top_k", "value": "25"},
                        {
                            "name": "metrics__names",
                            "value": '- coverage_score\n- "hit\\x2crate"\n- ndcg',
                        },
                    ]
                },
                "workflowTemplateRef": {"name": "kh-basic-train"},
            },
        }
    }
    values = request["body"]["workflow"]["spec"]["arguments"]["parameters"]
    assert decode_value(values[1]["value"]) == ["coverage_score", "hit,rate", "ndcg"]
    assert f"Submitted workflow {WORKFLOW_NAME}" in result.output


def test_submit_without_overrides_sends_no_arguments(
    argo_server: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARGO_SERVER", argo_server.url)
    monkeypatch.setenv("ARGO_NAMESPACE", "sandbox")
    result = _submit()
    assert result.exit_code == 0, result.output
    (request,) = argo_server.requests
    assert request["path"] == "/api/v1/workflows/sandbox"
    assert request["body"]["workflow"]["spec"] == {
        "workflowTemplateRef": {"name": "kh-basic-train"}
    }
    assert request["headers"].get("Authorization") is None


def test_wait_polls_until_success(argo_server: StandIn) -> None:
    argo_server.phases = ["Pending", "Running", "Running", "Succeeded"]
    result = _submit("--server", argo_server.url, "--wait", "--poll-interval", "0.01")
    assert result.exit_code == 0, result.output
    gets = [r for r in argo_server.requests if r["method"] == "GET"]
    assert len(gets) == 4
    assert gets[0]["path"].startswith(
        f"/api/v1/workflows/kh-basic-prod/{WORKFLOW_NAME}"
    )
    assert f"Workflow {WORKFLOW_NAME} Succeeded." in result.output


def test_wait_fails_when_the_workflow_fails(argo_server: StandIn) -> None:
    argo_server.phases = ["Running", "Failed"]
    argo_server.message = "child 'candidates' failed"
    result = _submit("--server", argo_server.url, "--wait", "--poll-interval", "0.01")
    assert result.exit_code == 1
    assert (
        f"Error: workflow {WORKFLOW_NAME} finished with phase Failed: "
        "child 'candidates' failed"
    ) in result.output


def test_wait_gives_up_after_the_timeout(argo_server: StandIn) -> None:
    argo_server.phases = ["Running"]
    result = _submit(
        "--server",
        argo_server.url,
        "--wait",
        "--poll-interval",
        "0.01",
        "--timeout",
        "0.05",
    )
    assert result.exit_code == 1
    assert (
        f"workflow {WORKFLOW_NAME} still Running after 0.05s; stopped waiting"
        in result.output
    )


@pytest.mark.parametrize(
    ("param", "message"),
    [
        (
            "nope=1",
            "Error: --param 'nope' is not a parameter of kh-basic-train; expected one of "
            "['candidates.mean.shrinkage', 'candidates.popularity.top_k', "
            "'metrics.names', 'report_title']",
        ),
        (
            "candidates.popularity.top_k=many",
            "Error: parameter 'candidates.popularity.top_k' expects a int like 10, got "
            "'many' instead",
        ),
        ("top_k", "Error: --param 'top_k' must look like key=value"),
    ],
)
def test_bad_overrides_fail_before_sending(
    argo_server: StandIn, param: str, message: str
) -> None:
    result = _submit("--server", argo_server.url, "--param", param)
    assert result.exit_code == 1
    assert message in result.output
    assert argo_server.requests == []


def test_unreachable_server_is_a_one_line_error() -> None:
    result = _submit("--server", "http://127.0.0.1:9")
    assert result.exit_code == 1
    (line,) = [x for x in result.output.splitlines() if x.startswith("Error:")]
    assert line.startswith("Error: submitting to http://127.0.0.1:9/ failed:")


def test_server_settings_follow_the_argo_cli_conventions() -> None:
    settings = server_settings(
        ServerConfig(host="argo.example.com:2746"),
        default_namespace="team",
        environ={"ARGO_TOKEN": "Bearer t", "ARGO_INSECURE_SKIP_VERIFY": "true"},
    )
    assert settings.host == "https://argo.example.com:2746/"
    assert settings.token == "Bearer t"
    assert settings.namespace == "team"
    assert settings.verify_ssl is False
    plain = server_settings(
        ServerConfig(),
        default_namespace="team",
        environ={"ARGO_SERVER": "h:1", "ARGO_SECURE": "false"},
    )
    assert plain.host == "http://h:1/"
    with pytest.raises(SubmitError, match="no Argo server configured"):
        server_settings(ServerConfig(), default_namespace="team", environ={})


def test_missing_manifest_is_reported(tmp_path: Path) -> None:
    metadata = bootstrap_project(BASIC)
    result = CliRunner().invoke(
        commands,
        [
            "argo",
            "submit",
            "--env",
            "staging",
            "--pipeline",
            "prepare",
            "--server",
            "http://x",
        ],
        obj=metadata,
    )
    assert result.exit_code == 1
    assert (
        "staging/prepare.yaml' does not exist; run `kedro argo compile` first"
        in result.output
    )
