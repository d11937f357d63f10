"""What the API-quota and wire tests share: a client that never retries, calls that report
"ok" or their error code, and the environment to run the console emulator in."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from botocore.config import Config
from botocore.exceptions import ClientError

from .helpers import submit_args

NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})
BIN = Path(sys.executable).parent
CLI_ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def outcome(call) -> str:
    try:
        call()
        return "ok"
    except ClientError as err:
        return err.response["Error"]["Code"]


def submits(batch, queue: str, n: int, prefix: str) -> list[str]:
    return [
        outcome(lambda i=i: batch.submit_service_job(**submit_args(queue, f"{prefix}-{i}")))
        for i in range(n)
    ]


def lists(batch, queue: str, n: int) -> list[str]:
    return [outcome(lambda: batch.list_service_jobs(jobQueue=queue)) for _ in range(n)]
