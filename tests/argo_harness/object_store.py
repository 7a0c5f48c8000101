"""An S3-compatible object store on 127.0.0.1: ``moto_server`` in its own process.

The pods reach it through the standard AWS variables (:attr:`S3Server.env`):
botocore, and so aiobotocore/s3fs and every fsspec ``s3://`` path Kedro opens,
reads ``AWS_ENDPOINT_URL`` (botocore >= 1.31), so no project config changes.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from tests.argo_harness.errors import HarnessError

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["S3Server"]

# Fake credentials of the local server; never real ones.
ACCESS_KEY = "harness"
SECRET_KEY = "harness-secret"  # pragma: allowlist secret
REGION = "us-east-1"


class S3Server:
    """``moto_server`` started on ``port`` and stopped on exit (a context manager).

    Args:
        bin_dir: Directory holding the ``moto_server`` script (the venv's).
        port: A free TCP port on 127.0.0.1.
        log_path: Where the server's log goes.
        env: Environment of the server process.
    """

    def __init__(
        self, *, bin_dir: Path, port: int, log_path: Path, env: dict[str, str]
    ) -> None:
        self.bin_dir = bin_dir
        self.port = port
        self.log_path = log_path
        self.process_env = env
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """AWS variables pointing a pod (botocore, s3fs) at this server."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint_url,
        }

    def client(self) -> Any:
        """A boto3 S3 client of this server (explicit endpoint, no ambient env)."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        )

    def __enter__(self) -> S3Server:
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(
                [
                    str(self.bin_dir / "moto_server"),
                    "-H",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                ],
                env=self.process_env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        client = self.client()
        while True:
            if self._proc.poll() is not None:
                msg = f"moto_server exited with {self._proc.returncode}; see {self.log_path}"
                raise HarnessError(msg)
            try:
                client.list_buckets()
            except (BotoCoreError, ClientError) as exc:
                if time.monotonic() > deadline:
                    self.__exit__(None, None, None)
                    msg = f"moto_server did not answer on {self.endpoint_url} in 60 s"
                    raise HarnessError(msg) from exc
                time.sleep(0.3)
            else:
                return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def create_bucket(self, bucket: str) -> None:
        """Create ``bucket``."""
        self.client().create_bucket(Bucket=bucket)

    def upload_dir(self, source: Path, bucket: str, prefix: str) -> list[str]:
        """Upload every file of ``source`` (recursively) below ``prefix``.

        Returns:
            The keys written.
        """
        client = self.client()
        keys = []
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            key = f"{prefix.rstrip('/')}/{path.relative_to(source).as_posix()}"
            client.upload_file(str(path), bucket, key)
            keys.append(key)
        return keys

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every key of ``bucket`` below ``prefix``, sorted."""
        paginator = self.client().get_paginator("list_objects_v2")
        return sorted(
            item["Key"]
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
            for item in page.get("Contents", [])
        )

    def read(self, bucket: str, key: str) -> bytes:
        """The bytes of one object."""
        body = self.client().get_object(Bucket=bucket, Key=key)["Body"]
        return bytes(body.read())
