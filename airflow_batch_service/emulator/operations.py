"""Operation names: the URL path segment Batch uses -> botocore's operation name.

Counters and fault plans are keyed by the names users see in boto3 and the AWS docs
(``DescribeServiceJob``), not by moto's lowercase path segments.
"""

from __future__ import annotations

from functools import lru_cache

import botocore.session


@lru_cache(maxsize=1)
def _by_segment() -> dict[str, str]:
    model = botocore.session.get_session().get_service_model("batch")
    out = {}
    for name in model.operation_names:
        uri = model.operation_model(name).http.get("requestUri", "")
        segment = uri.split("?")[0].strip("/").split("/")
        if len(segment) >= 2 and segment[0] == "v1" and "{" not in segment[1]:
            out[segment[1]] = name
    return out


def operation_name(segment: str, method: str = "POST") -> str:
    """``describeservicejob`` -> ``DescribeServiceJob``; the tags path by HTTP method."""
    if segment == "tags":
        return {"GET": "ListTagsForResource", "DELETE": "UntagResource"}.get(method, "TagResource")
    return _by_segment().get(segment, segment)
