"""Markdown the docs build generates by running the core, so the pages cannot drift from it.

A page asks for a block with a marker on a line of its own, ``<!-- generated:NAME -->``;
``scripts/gen_docs.py`` writes ``GENERATORS[NAME]()`` after it, up to an end marker, into the
page itself (``blocks.py``), and the docs build renders it afresh. Every table row and every log
excerpt below is computed by ``airflow_batch_service.core``, not typed by hand.

The output reads the same on GitHub as on the site: a collapsible example is an HTML
``<details>`` element (``md_in_html`` renders its Markdown on the site, GitHub does natively),
never an indented ``???`` block, which GitHub shows as code.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from airflow_batch_service.core import reasons
from airflow_batch_service.core.retry import RetryStrategy, decide, unreachable_prefix_rules
from airflow_batch_service.core.verdict import interpret
from airflow_batch_service.core.watch import JobWatcher

REGION, ACCOUNT = "us-east-1", "123456789012"
HERE = Path(__file__).resolve().parent

#: Realistic status reasons, in SageMaker's relayed form where SageMaker is the source.
REASONS: dict[str, str] = {
    "internal": reasons.sagemaker(
        "InternalServerError: We encountered an internal error. Please try again."
    ),
    "validation": reasons.sagemaker(
        "ValidationException: Could not assume role arn:aws:iam::123456789012:role/ml-training"
    ),
    "algorithm": reasons.sagemaker(
        'AlgorithmError: ExecuteUserScriptError: Command "python train.py" exited with 1'
    ),
    "quota": reasons.sagemaker(
        "ResourceLimitExceeded: The account-level service limit 'ml.p4d.24xlarge for "
        "training job usage' is 2 Instances"
    ),
    "timeout": reasons.ATTEMPT_TIMEOUT,
}

#: (title, retryStrategy) pairs shown in the matrix.
STRATEGIES: list[tuple[str, dict[str, Any] | None]] = [
    (
        "AWS's documented example: retry internal errors, stop on validation errors and "
        "on anything else",
        {
            "attempts": 5,
            "evaluateOnExit": [
                {
                    "action": "RETRY",
                    "onStatusReason": "Received status from SageMaker: InternalServerError*",
                },
                {
                    "action": "EXIT",
                    "onStatusReason": "Received status from SageMaker: ValidationException*",
                },
                {"action": "EXIT", "onStatusReason": "*"},
            ],
        },
    ),
    ("Attempts only, no rules", {"attempts": 3}),
    (
        "Retry on anything, but never on a quota error",
        {
            "attempts": 3,
            "evaluateOnExit": [
                {"action": "EXIT", "onStatusReason": "*ResourceLimitExceeded*"},
                {"action": "RETRY", "onStatusReason": "*"},
            ],
        },
    ),
    (
        "The SageMaker SDK's prefix pitfall: no space after the colon",
        {
            "attempts": 3,
            "evaluateOnExit": [
                {
                    "action": "RETRY",
                    "onStatusReason": "Received status from SageMaker:InternalServerError*",
                },
                {"action": "EXIT", "onStatusReason": "*"},
            ],
        },
    ),
    ("No retryStrategy at all", None),
]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _short(reason: str) -> str:
    """The reason as a table shows it: long SageMaker messages cut after the error name."""
    prefix = reasons.SAGEMAKER_PREFIX
    if reason.startswith(prefix):
        head = reason[len(prefix) :].split(":", 1)[0]
        return f"`{prefix}{head}: ...`"
    return f"`{reason}`"


def retry_matrix() -> str:
    """For each strategy: which rule matches which reason, and what Batch does (attempt 1)."""
    out: list[str] = []
    for title, raw in STRATEGIES:
        strategy = RetryStrategy.from_api(raw)
        out.append(f"#### {title}\n")
        shown = json.dumps(raw, indent=2) if raw is not None else "(retryStrategy not set)"
        out.append(f"```json\n{shown}\n```\n")
        pitfalls = unreachable_prefix_rules(strategy)
        if pitfalls:
            names = ", ".join(f"rule {r.index}" for r in pitfalls)
            out.append(
                f"`core.retry.unreachable_prefix_rules` flags {names}: real reasons have a "
                "space after `SageMaker:`, so it can never match.\n"
            )
        out.append(
            "| statusReason of the failed attempt | attempt | first matching rule | "
            "cause | what Batch does |"
        )
        out.append("|---|---|---|---|---|")
        rows: list[tuple[str, int, bool]] = [(key, 1, False) for key in REASONS]
        if strategy.attempts > 1:
            rows.append(("internal", strategy.attempts, False))
        rows.append(("algorithm", 1, True))
        for key, attempt, terminated in rows:
            reason = REASONS[key]
            decision = decide(strategy, reason, attempt, terminated=terminated)
            rule = strategy.first_match(reason)
            matched = f"rule {rule.index} {rule.action.value}" if rule else "none"
            if terminated:
                matched = "(not consulted)"
                label = "any, job terminated"
            else:
                label = _short(reason)
            out.append(
                f"| {_cell(label)} | {attempt} of {strategy.attempts} | {matched} | "
                f"`{decision.cause.value}` | {_cell(decision.describe())} |"
            )
        out.append("")
    return "\n".join(out)


# --- Realistic DescribeServiceJob responses --------------------------------------------------

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z in epoch milliseconds


def _arn(kind: str, name: str) -> str:
    service = "sagemaker" if kind == "training-job" else "batch"
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{kind}/{name}"


def _attempt(name: str, hex32: str, start_s: int, stop_s: int | None, reason: str | None) -> dict:
    attempt: dict[str, Any] = {
        "serviceResourceId": {
            "name": "TrainingJobArn",
            "value": _arn("training-job", f"AWSBatch{name}{hex32}"),
        },
        "startedAt": T0 + start_s * 1000,
    }
    if stop_s is not None:
        attempt["stoppedAt"] = T0 + stop_s * 1000
    if reason is not None:
        attempt["statusReason"] = reason
    return attempt


def _describe(
    job_name: str, status: str, reason: str | None, attempts: Sequence[dict], **extra: Any
) -> dict[str, Any]:
    job_id = extra.pop("jobId", "7d4c2f0e-5b1a-4c3e-9f6d-2a8b0c1e3f57")
    return {
        "jobId": job_id,
        "jobArn": _arn("service-job", job_id),
        "jobName": job_name,
        "jobQueue": _arn("job-queue", "ml-training"),
        "serviceJobType": "SAGEMAKER_TRAINING",
        "status": status,
        "statusReason": reason,
        "createdAt": T0,
        "attempts": list(attempts),
        "latestAttempt": {"serviceResourceId": attempts[-1]["serviceResourceId"]}
        if attempts
        else {},
        **extra,
    }


AWS_EXAMPLE_STRATEGY = STRATEGIES[0][1]

EXAMPLES: dict[str, tuple[str, dict[str, Any]]] = {
    "retried-then-exit": (
        "An internal error is retried by rule 1; the next attempt hits a validation error and "
        "rule 2 (EXIT) ends the job.",
        _describe(
            "resnet50-sweep-lr0p01",
            "FAILED",
            REASONS["validation"],
            [
                _attempt(
                    "resnet50-lr0p01",
                    "0f8e4a1c9b2d47e6a3c5b7d9e1f20a4b",
                    120,
                    2_562,
                    REASONS["internal"],
                ),
                _attempt(
                    "resnet50-lr0p01",
                    "6b1d3f5a7c9e4b2d8f0a1c3e5b7d9f11",
                    2_700,
                    2_731,
                    REASONS["validation"],
                ),
            ],
            retryStrategy=AWS_EXAMPLE_STRATEGY,
            isTerminated=False,
        ),
    ),
    "succeeded-after-retry": (
        "No rules, three attempts: the first attempt's script error matches nothing, so Batch "
        "retries (inferred behaviour); the job was preempted once on the way, which used no "
        "attempt.",
        _describe(
            "bert-finetune-run7",
            "SUCCEEDED",
            reasons.TRAINING_COMPLETED,
            [
                _attempt(
                    "bert-ft-run7",
                    "a3c5e7f9b1d34f6a8c0e2b4d6f8a0c21",
                    60,
                    905,
                    REASONS["algorithm"],
                ),
                _attempt(
                    "bert-ft-run7",
                    "c2e4a6b8d0f24a6c8e0b2d4f6a8c0e31",
                    1_020,
                    9_480,
                    reasons.TRAINING_COMPLETED,
                ),
            ],
            jobId="1b9e6c3a-0d2f-4e8b-a7c5-9f3e1d2b4a60",
            retryStrategy={"attempts": 3},
            preemptionSummary={"preemptedAttemptCount": 1},
            isTerminated=False,
        ),
    ),
    "terminated": (
        "Terminated while running (for example by a task's `on_kill`): FAILED with "
        "`isTerminated`, never retried whatever the rules say.",
        _describe(
            "xgb-nightly",
            "FAILED",
            "Terminated from Airflow: task was killed",
            [
                _attempt(
                    "xgb-nightly",
                    "e5f7a9c1b3d54e7f9a1c3e5b7d9f1a41",
                    300,
                    1_500,
                    "Terminated from Airflow: task was killed",
                ),
            ],
            jobId="4f0a2c6e-8b1d-4a3f-b5c7-d9e1f3a5b7c9",
            retryStrategy={
                "attempts": 3,
                "evaluateOnExit": [{"action": "RETRY", "onStatusReason": "*"}],
            },
            isTerminated=True,
        ),
    ),
    "timed-out": (
        "An attempt ran past `timeoutConfig.attemptDurationSeconds` (the reason text and the "
        "no-retry behaviour are inferred from container jobs).",
        _describe(
            "llm-pretrain-shard3",
            "FAILED",
            reasons.ATTEMPT_TIMEOUT,
            [
                _attempt(
                    "llm-pt-shard3",
                    "b7d9f1a3c5e74b9d1f3a5c7e9b1d3f51",
                    30,
                    3_630,
                    reasons.ATTEMPT_TIMEOUT,
                ),
            ],
            jobId="9c8b7a6f-5e4d-4c3b-a2f1-0e9d8c7b6a50",
            retryStrategy={"attempts": 2},
            timeoutConfig={"attemptDurationSeconds": 3600},
            isTerminated=False,
        ),
    ),
}


def _details(summary: str, language: str, code: str) -> list[str]:
    """A collapsed example: ``<details>`` with a fenced block, for the site and for GitHub."""
    return [
        '<details class="example" markdown="1">',
        f"<summary>{summary}</summary>",
        "",
        f"```{language}",
        code,
        "```",
        "",
        "</details>",
    ]


def _example(key: str) -> str:
    caption, describe = EXAMPLES[key]
    shown = {k: v for k, v in describe.items() if k not in ("jobQueue", "serviceJobType")}
    verdict = interpret(describe)
    return "\n".join(
        [
            caption,
            "",
            *_details(
                "The DescribeServiceJob response (abridged)", "json", json.dumps(shown, indent=2)
            ),
            "",
            "`interpret(response).explain()` prints:",
            "",
            "```text",
            verdict.explain(),
            "```",
            "",
        ]
    )


def explain_examples() -> str:
    return "\n".join(
        f"### {title}\n\n{_example(key)}"
        for key, title in [
            ("retried-then-exit", "Retried, then stopped by an EXIT rule"),
            ("succeeded-after-retry", "Succeeded on the second attempt"),
            ("terminated", "Terminated"),
            ("timed-out", "Attempt timed out"),
        ]
    )


def watcher_timeline() -> str:
    """What ``core.watch.JobWatcher`` reports as successive polls see one job."""
    strategy = AWS_EXAMPLE_STRATEGY
    name, h1, h2 = (
        "resnet50-lr0p01",
        "0f8e4a1c9b2d47e6a3c5b7d9e1f20a4b",
        "6b1d3f5a7c9e4b2d8f0a1c3e5b7d9f11",
    )
    first_failed = _attempt(name, h1, 120, 2_562, REASONS["internal"])
    polls: list[tuple[int, dict[str, Any]]] = [
        (5, _describe("resnet50-sweep-lr0p01", "RUNNABLE", None, [], retryStrategy=strategy)),
        (
            90,
            _describe(
                "resnet50-sweep-lr0p01",
                "SCHEDULED",
                None,
                [],
                retryStrategy=strategy,
                scheduledAt=T0 + 80_000,
            ),
        ),
        (
            100,
            _describe(
                "resnet50-sweep-lr0p01",
                "RUNNABLE",
                reasons.CAPACITY_ERROR,
                [],
                retryStrategy=strategy,
            ),
        ),
        (
            130,
            _describe(
                "resnet50-sweep-lr0p01",
                "RUNNING",
                None,
                [_attempt(name, h1, 120, None, None)],
                retryStrategy=strategy,
            ),
        ),
        (
            2_600,
            _describe(
                "resnet50-sweep-lr0p01", "RUNNABLE", None, [first_failed], retryStrategy=strategy
            ),
        ),
        (
            2_720,
            _describe(
                "resnet50-sweep-lr0p01",
                "RUNNING",
                None,
                [first_failed, _attempt(name, h2, 2_700, None, None)],
                retryStrategy=strategy,
            ),
        ),
        (
            9_900,
            _describe(
                "resnet50-sweep-lr0p01",
                "SUCCEEDED",
                reasons.TRAINING_COMPLETED,
                [first_failed, _attempt(name, h2, 2_700, 9_850, reasons.TRAINING_COMPLETED)],
                retryStrategy=strategy,
            ),
        ),
    ]
    watcher = JobWatcher()
    lines: list[str] = []
    for second, describe in polls:
        for message in watcher.observe(describe, T0 + second * 1000).messages:
            lines.append(f"[+{second:>5}s] {message}")
    return "```text\n" + "\n".join(lines) + "\n```\n"


def runnable_timeout() -> str:
    """The explanation ``max_runnable_seconds`` produces, from ``core.watch.JobWatcher``."""
    watcher = JobWatcher(max_runnable_seconds=3600)
    describe = _describe(
        "resnet50-sweep-lr0p01", "RUNNABLE", None, [], retryStrategy={"attempts": 3}
    )
    watcher.observe(describe, T0 + 10_000)
    observation = watcher.observe(describe, T0 + 3_700_000)
    return f"```text\n{observation.terminate_reason}\n```\n"


def transient_errors() -> str:
    """What ``core.errors.classify`` waits out, and the default poll policy of ``core.watch``."""
    from airflow_batch_service.core.errors import TRANSIENT_CODES
    from airflow_batch_service.core.watch import PollPolicy

    policy = PollPolicy()
    codes = ", ".join(f"`{code}`" for code in sorted(TRANSIENT_CODES))
    return "\n".join(
        [
            f"- **Transient**: HTTP 429, any HTTP 5xx, and the error codes {codes}. The wait backs "
            "off and tries again; these never fail the task on their own.",
            "- **Not found**: a `ClientException` (or `ResourceNotFoundException`) saying the job "
            "does not exist. Right after submit that is eventual consistency: it is retried for "
            f"up to {policy.not_found_grace:g} seconds (`PollPolicy.not_found_grace`), then it is "
            "an error.",
            "- **Anything else** (access denied, bad credentials, a malformed request) is an error "
            "at once: retrying would not fix it.",
            "",
            f"Ordinary polls are `interval` seconds apart with ±{policy.jitter:.0%} jitter, so many "
            "waits started together do not poll in lockstep. After consecutive transient errors "
            'the delay doubles each time, capped at `max_backoff`, with "equal jitter" (a random '
            "delay between half the capped delay and all of it). `core.watch.PollPolicy` defaults: "
            f"`interval={policy.interval:g}`, `max_backoff={policy.max_backoff:g}`, "
            f"`jitter={policy.jitter:g}`, `not_found_grace={policy.not_found_grace:g}`.",
            "",
        ]
    )


ROOT = Path(__file__).resolve().parents[2]
PINNED = (
    "apache-airflow",
    "apache-airflow-task-sdk",
    "apache-airflow-providers-amazon",
    "boto3",
    "botocore",
    "aiobotocore",
    "moto",
)


def declared_dependencies() -> str:
    """The requirement ranges ``pyproject.toml`` declares, as a table."""
    with (ROOT / "pyproject.toml").open("rb") as fh:
        project = tomllib.load(fh)["project"]
    rows = [("Python", project["requires-python"])]
    rows += [(re.split(r"[\[<>=!~ ;]", req, maxsplit=1)[0], req) for req in project["dependencies"]]
    for extra, reqs in project.get("optional-dependencies", {}).items():
        if extra in ("emulator", "async"):
            rows += [(f"extra `{extra}`", req) for req in reqs]
    lines = ["| what | declared in pyproject.toml |", "|---|---|"]
    lines += [f"| {name} | `{spec}` |" for name, spec in rows]
    return "\n".join(lines) + "\n"


def tested_versions() -> str:
    """One column per constraints file in ``constraints/``: the exact versions it pins."""
    files = sorted((ROOT / "constraints").glob("*.txt"))
    pins: dict[str, dict[str, str]] = {}
    for path in files:
        found: dict[str, str] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            name, sep, version = line.strip().partition("==")
            if sep and name.lower() in PINNED:
                found[name.lower()] = version.split(";")[0].strip()
        pins[path.name] = found
    header = "| package | " + " | ".join(f"`constraints/{name}`" for name in pins) + " |"
    lines = [header, "|---|" + "---|" * len(pins)]
    for package in PINNED:
        cells = " | ".join(pins[name].get(package, "-") for name in pins)
        lines.append(f"| {package} | {cells} |")
    return "\n".join(lines) + "\n"


def sensor_summary() -> str:
    """The sensor's XCom value (``Verdict.summary()``) for the succeeded-after-retry example."""
    summary = interpret(EXAMPLES["succeeded-after-retry"][1]).summary()
    return "```json\n" + json.dumps(summary, indent=2) + "\n```\n"


def validation_error() -> str:
    """What ``build_submit_request`` reports for a handful of typical mistakes."""
    from airflow_batch_service._shared.submit_request import build_submit_request, describe_problems

    call = dict(
        job_name="train 2026-11-24",  # a space: not allowed
        job_queue="ml-training",
        service_request_payload={
            "TrainingJobName": "resnet50-sweep-learning-rate-0p01",
            "RoleArn": "arn:aws:iam::123456789012:role/SageMakerTrainingRole",
            "AlgorithmSpecification": {
                "TrainingImage": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.5-gpu-py311",
                "TrainingInputMode": "File",
            },
            "HyperParameters": {"epochs": 10},
            "OutputDataConfig": {"S3OutputPath": "s3://my-bucket/out/"},
            "ResourceConfig": {
                "InstanceType": "ml.g5.xlarge",
                "InstanceCount": 1,
                "VolumeSizeInGB": 30,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        },
        retry_strategy={
            "attempts": 11,
            "evaluateOnExit": [{"action": "retry", "onStatusReason": "*"}],
        },
        scheduling_priority=10000,
        share_identifier="exploration",
        quota_share_name="team-a",
    )
    _request, problems = build_submit_request(**call)
    from pprint import pformat

    args = "\n".join(
        f"    {k}=" + pformat(v, width=88 - len(k), sort_dicts=False).replace("\n", "\n    ") + ","
        for k, v in call.items()
    )
    return "\n".join(
        [
            *_details("The arguments (rendered)", "python", f"build_submit_request(\n{args}\n)"),
            "",
            "```text",
            describe_problems(problems),
            "```",
            "",
        ]
    )


def _outcomes() -> ModuleType:
    """The sibling ``outcomes.py``, loaded by path as ``hooks.py`` loads this module."""
    qualified = "_abs_docs_outcomes"
    if qualified not in sys.modules:
        spec = importlib.util.spec_from_file_location(qualified, HERE / "outcomes.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[qualified] = module
        spec.loader.exec_module(module)
    return sys.modules[qualified]


def airflow_outcome() -> str:
    """What the operator's wait and the sensor raise, per way a wait ends (``outcomes.py``)."""
    return _outcomes().both_endings()


def operator_endings() -> str:
    return _outcomes().operator_endings()


def sensor_endings() -> str:
    return _outcomes().sensor_endings()


def durable_decisions() -> str:
    return _outcomes().durable_decisions()


GENERATORS: Mapping[str, Callable[[], str]] = {
    "declared-dependencies": declared_dependencies,
    "tested-versions": tested_versions,
    "retry-matrix": retry_matrix,
    "explain-examples": explain_examples,
    "watcher-timeline": watcher_timeline,
    "runnable-timeout": runnable_timeout,
    "transient-errors": transient_errors,
    "sensor-summary": sensor_summary,
    "validation-error": validation_error,
    "airflow-outcome": airflow_outcome,
    "operator-endings": operator_endings,
    "sensor-endings": sensor_endings,
    "durable-decisions": durable_decisions,
}
