"""A real S3-compatible server for the tests: moto's standalone server (`moto_server`) on
127.0.0.1 and a free port, one per test (a server shared across tests once stopped answering
HeadObject after a client was SIGKILLed mid-connection). The platform reaches it as any S3
endpoint, through the AWS_* environment variables."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pyarrow.fs as pafs

from ml_data_platform_tests.postgres_server import _free_port

MOTO = Path(sys.executable).parent / "moto_server"


class S3Server:
    def __init__(self) -> None:
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [str(MOTO), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=2)
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.process.kill()
                    reason = self.process.stderr.read().decode()[-2000:]
                    raise RuntimeError(f"moto_server did not start on {self.endpoint}: {reason}") from None
                time.sleep(0.1)

    def env(self) -> dict[str, str]:
        """What a process needs to reach the server (credentials moto accepts as any)."""
        return {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def filesystem(self) -> pafs.S3FileSystem:
        return pafs.S3FileSystem(
            access_key="testing",
            secret_key="testing",
            region="us-east-1",
            endpoint_override=self.endpoint,
            allow_bucket_creation=True,
        )

    def fresh_bucket(self) -> str:
        """A new empty bucket; its s3:// URL with a prefix."""
        bucket = f"exports-{uuid.uuid4().hex[:12]}"
        self.filesystem().create_dir(bucket)
        return f"s3://{bucket}/platform"

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()
