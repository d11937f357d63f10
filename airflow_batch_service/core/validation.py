"""Every documented bound of a SubmitServiceJob request, checked in one place.

botocore checks almost none of these client-side (attempts 11, six rules, priority 99999 and
type "FOO" all reach AWS). The operator checks them before any AWS call. The emulator answers
them as Batch does from its own reading (``emulator.submit_rules``), and
``tests/contract/test_submit_bounds.py`` checks that the two agree at every edge.

Field paths use the API's own names (``retryStrategy.evaluateOnExit[2].action``) so a message
can be matched to the AWS docs; the operator adds its own argument name in front.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_batch_service.core.retry import (
    MAX_ATTEMPTS,
    MAX_PATTERN_LENGTH,
    MAX_RULES,
    MIN_ATTEMPTS,
    RetryAction,
)

SERVICE_JOB_TYPES = ("SAGEMAKER_TRAINING",)
JOB_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
SHARE_IDENTIFIER_RE = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
MIN_PRIORITY, MAX_PRIORITY = 0, 9999
MAX_TAGS, MAX_TAG_KEY, MAX_TAG_VALUE = 50, 128, 256
MAX_CLIENT_TOKEN = 64
MAX_TERMINATE_BATCH = 50
MAX_JOB_NAME = 128
#: AWS Batch service quotas: the payload and the whole SubmitServiceJob request, in bytes.
MAX_PAYLOAD_BYTES = 10 * 1024
MAX_REQUEST_BYTES = 30 * 1024


@dataclass(frozen=True)
class Problem:
    """One broken rule: the field (API path) and the rule, in words.

    A rule that names another field writes it in braces (``"cannot be given together with
    {shareIdentifier}"``), so each caller names it in its own words: the API's name here and in
    the emulator, the operator's argument name in the operator's messages.
    """

    field: str
    rule: str

    @property
    def message(self) -> str:
        return f"{self.field}: {self.text()}"

    def text(self, name: Callable[[str], str] | None = None) -> str:
        """The rule with every ``{otherField}`` named by ``name`` (the API name by default)."""
        return _OTHER_FIELD.sub(lambda m: (name or str)(m.group(1)), self.rule)


_OTHER_FIELD = re.compile(r"\{([A-Za-z][A-Za-z0-9.]*)\}")


class InvalidRequestError(ValueError):
    """A request breaks documented rules. ``problems`` lists every one found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(p.message for p in problems))

    @property
    def field(self) -> str:
        return self.problems[0].field


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(out: list[Problem], path: str, value: Any, low: int, high: int | None) -> None:
    if not _is_int(value):
        out.append(Problem(path, f"must be an integer, got {type(value).__name__} {value!r}"))
    elif value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        out.append(Problem(path, f"must be {bound}, got {value}"))


def _check_str(
    out: list[Problem], path: str, value: Any, *, pattern: re.Pattern[str] | None, rule: str
) -> None:
    if not isinstance(value, str):
        out.append(Problem(path, f"must be a string, got {type(value).__name__}"))
    elif pattern is not None and not pattern.fullmatch(value):
        out.append(Problem(path, f"{rule}, got {value!r}"))


def _check_int_object(
    out: list[Problem], request: Mapping[str, Any], field: str, key: str, low: int
) -> None:
    """``{key: int >= low}`` objects: preemptionConfiguration, timeoutConfig."""
    value = request.get(field)
    if value is None:
        return
    if not isinstance(value, Mapping):
        out.append(Problem(field, "must be an object"))
        return
    out.extend(unknown_keys(value, field, (key,)))
    if key in value:
        _check_int(out, f"{field}.{key}", value[key], low, None)


def unknown_keys(value: Mapping[str, Any], where: str, allowed: Sequence[str]) -> list[Problem]:
    """The keys of ``value`` the API does not take, named with the ones it does."""
    extra = set(value) - set(allowed)
    if not extra:
        return []
    return [Problem(where, f"unknown key(s) {sorted(extra)}; allowed: {', '.join(allowed)}")]


def objects_in(
    out: list[Problem], items: Iterable[Any], path: str, allowed: Sequence[str], must: str
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """``(where, item)`` of each object of a list the API takes, its index in ``where``;
    an item that is no object, or has keys the API does not take, is a problem in ``out``."""
    for index, item in enumerate(items):  # 0-based, as the API and JSON index it
        where = f"{path}[{index}]"
        if not isinstance(item, Mapping):
            out.append(Problem(where, must))
            continue
        out.extend(unknown_keys(item, where, allowed))
        yield where, item


def retry_strategy_problems(value: Any, path: str = "retryStrategy") -> list[Problem]:
    out: list[Problem] = []
    if not isinstance(value, Mapping):
        return [Problem(path, f"must be an object, got {type(value).__name__}")]
    out.extend(unknown_keys(value, path, ("attempts", "evaluateOnExit")))
    if "attempts" not in value:
        out.append(Problem(f"{path}.attempts", "is required"))
    else:
        _check_int(out, f"{path}.attempts", value["attempts"], MIN_ATTEMPTS, MAX_ATTEMPTS)
    rules = value.get("evaluateOnExit")
    if rules is None:
        return out
    if not isinstance(rules, list):
        return [*out, Problem(f"{path}.evaluateOnExit", "must be a list of rules")]
    if len(rules) > MAX_RULES:
        out.append(
            Problem(f"{path}.evaluateOnExit", f"at most {MAX_RULES} rules, got {len(rules)}")
        )
    actions = ", ".join(a.value for a in RetryAction)
    for rpath, rule in objects_in(
        out,
        rules,
        f"{path}.evaluateOnExit",
        ("action", "onStatusReason"),
        "must be an object with action and onStatusReason",
    ):
        action = rule.get("action")
        if action not in {a.value for a in RetryAction}:
            out.append(Problem(f"{rpath}.action", f"must be one of {actions}, got {action!r}"))
        pattern = rule.get("onStatusReason")
        ppath = f"{rpath}.onStatusReason"
        if pattern is None:
            out.append(
                Problem(ppath, "is required (a glob matched against the attempt's statusReason)")
            )
        elif not isinstance(pattern, str):
            out.append(Problem(ppath, "must be a string"))
        elif not 1 <= len(pattern) <= MAX_PATTERN_LENGTH:
            out.append(
                Problem(ppath, f"must be 1-{MAX_PATTERN_LENGTH} characters, got {len(pattern)}")
            )
        elif not pattern.isprintable():
            out.append(Problem(ppath, "may contain only printable characters"))
    return out


def tags_problems(value: Any, path: str = "tags") -> list[Problem]:
    if not isinstance(value, Mapping):
        return [
            Problem(
                path, f"must be an object of string keys and values, got {type(value).__name__}"
            )
        ]
    out: list[Problem] = []
    if not 1 <= len(value) <= MAX_TAGS:
        out.append(Problem(path, f"must hold 1-{MAX_TAGS} tags, got {len(value)}"))
    for key, val in value.items():
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_TAG_KEY:
            out.append(Problem(f"{path}[{key!r}]", f"tag keys must be 1-{MAX_TAG_KEY} characters"))
        elif key.lower().startswith("aws:"):
            out.append(
                Problem(f"{path}[{key!r}]", "tag keys may not start with 'aws:' (reserved by AWS)")
            )
        if not isinstance(val, str) or len(val) > MAX_TAG_VALUE:
            out.append(
                Problem(
                    f"{path}[{key!r}]",
                    f"tag values must be strings of at most {MAX_TAG_VALUE} characters",
                )
            )
    return out


def payload_problems(value: Any, path: str = "serviceRequestPayload") -> list[Problem]:
    """The payload must be a JSON string of an object. Batch checks no more than that at
    submit; the SageMaker model check lives in the provider (it needs botocore)."""
    if not isinstance(value, str):
        return [Problem(path, f"must be a JSON string, got {type(value).__name__}")]
    try:
        parsed = json.loads(value)
    except ValueError as err:
        return [Problem(path, f"must be valid JSON ({err})")]
    if not isinstance(parsed, dict):
        return [Problem(path, f"must be a JSON object, got {type(parsed).__name__}")]
    size = len(value.encode("utf-8"))
    if size > MAX_PAYLOAD_BYTES:
        return [
            Problem(
                path,
                f"is {size:,} bytes as JSON; AWS Batch allows at most {MAX_PAYLOAD_BYTES:,} "
                "(10 KiB). Move large values (hyperparameters, environment) to S3 or shorten them",
            )
        ]
    return []


def request_size_problems(request: Mapping[str, Any], reserve: int = 0) -> list[Problem]:
    """The whole SubmitServiceJob request (its JSON body) against AWS's 30 KiB quota.

    ``reserve`` counts bytes the caller adds afterwards (the provider's durable-submission
    clientToken and tags), so a request that would only overflow once they are added is
    refused before any call, too.
    """
    try:
        body = json.dumps(dict(request), separators=(",", ":"))
    except (TypeError, ValueError):
        return []  # reported by the field checks
    size = len(body.encode("utf-8")) + reserve
    if size <= MAX_REQUEST_BYTES:
        return []
    extra = f", including {reserve:,} bytes of durable-submission tags" if reserve else ""
    return [
        Problem(
            "request",
            f"the whole SubmitServiceJob request is {size:,} bytes{extra}; AWS Batch allows at "
            f"most {MAX_REQUEST_BYTES:,} (30 KiB)",
        )
    ]


def submit_request_problems(request: Mapping[str, Any]) -> list[Problem]:
    """Every broken rule in a SubmitServiceJob request (API shape, camelCase)."""
    out: list[Problem] = []
    for required in ("jobName", "jobQueue", "serviceRequestPayload", "serviceJobType"):
        if request.get(required) in (None, ""):
            out.append(Problem(required, "is required"))
    name = request.get("jobName")
    if isinstance(name, str) and len(name) > MAX_JOB_NAME:
        out.append(
            Problem("jobName", f"must be at most {MAX_JOB_NAME} characters, got {len(name)}")
        )
    elif name not in (None, ""):
        _check_str(
            out,
            "jobName",
            request["jobName"],
            pattern=JOB_NAME_RE,
            rule="must be 1-128 letters, digits, hyphens or underscores",
        )
    if request.get("jobQueue") not in (None, ""):
        _check_str(out, "jobQueue", request["jobQueue"], pattern=None, rule="")
    job_type = request.get("serviceJobType")
    if job_type not in (None, "") and job_type not in SERVICE_JOB_TYPES:
        out.append(
            Problem(
                "serviceJobType", f"must be one of {', '.join(SERVICE_JOB_TYPES)}, got {job_type!r}"
            )
        )
    if request.get("serviceRequestPayload") not in (None, ""):
        out.extend(payload_problems(request["serviceRequestPayload"]))
    if request.get("retryStrategy") is not None:
        out.extend(retry_strategy_problems(request["retryStrategy"]))
    if request.get("schedulingPriority") is not None:
        _check_int(
            out, "schedulingPriority", request["schedulingPriority"], MIN_PRIORITY, MAX_PRIORITY
        )
    share, quota = request.get("shareIdentifier"), request.get("quotaShareName")
    if share is not None:
        _check_str(
            out,
            "shareIdentifier",
            share,
            pattern=SHARE_IDENTIFIER_RE,
            rule="must be 1-255 letters, digits, hyphens or underscores",
        )
    if quota is not None:
        _check_str(
            out,
            "quotaShareName",
            quota,
            pattern=SHARE_IDENTIFIER_RE,
            rule="must be 1-255 letters, digits, hyphens or underscores",
        )
    if share is not None and quota is not None:
        out.append(Problem("quotaShareName", "cannot be given together with {shareIdentifier}"))
    _check_int_object(
        out, request, "preemptionConfiguration", "preemptionRetriesBeforeTermination", 0
    )
    _check_int_object(out, request, "timeoutConfig", "attemptDurationSeconds", 1)
    if request.get("tags") is not None:
        out.extend(tags_problems(request["tags"]))
    token = request.get("clientToken")
    if token is not None and (
        not isinstance(token, str) or not 1 <= len(token) <= MAX_CLIENT_TOKEN
    ):
        out.append(Problem("clientToken", f"must be a string of 1-{MAX_CLIENT_TOKEN} characters"))
    if not out:
        out.extend(request_size_problems(request))
    return out


def validate_submit_request(request: Mapping[str, Any]) -> None:
    """Raise :class:`InvalidRequestError` listing every broken rule, or return quietly."""
    problems = submit_request_problems(request)
    if problems:
        raise InvalidRequestError(problems)


def priority_problems(value: Any, path: str = "schedulingPriority") -> list[Problem]:
    out: list[Problem] = []
    _check_int(out, path, value, MIN_PRIORITY, MAX_PRIORITY)
    return out
