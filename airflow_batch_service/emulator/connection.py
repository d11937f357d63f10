"""Airflow connection strings for an emulator endpoint, without importing Airflow.

Use as ``AIRFLOW_CONN_AWS_DEFAULT=<aws_connection_json(url)>``. STS gets the endpoint too,
because the amazon provider does not send STS calls to ``endpoint_url``.
"""

from __future__ import annotations

import json
from urllib.parse import quote


def _extra(endpoint_url: str, region: str) -> dict[str, object]:
    return {
        "region_name": region,
        "endpoint_url": endpoint_url,
        "service_config": {"sts": {"endpoint_url": endpoint_url}},
    }


def aws_connection_json(endpoint_url: str, region: str = "us-east-1") -> str:
    """The JSON form of an ``aws`` connection pointing at the emulator."""
    return json.dumps(
        {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": _extra(endpoint_url, region),
        }
    )


def aws_connection_uri(endpoint_url: str, region: str = "us-east-1") -> str:
    """The URI form (``aws://testing:testing@/?__extra__=...``) of the same connection."""
    extra = quote(json.dumps(_extra(endpoint_url, region)), safe="")
    return f"aws://testing:testing@/?__extra__={extra}"
