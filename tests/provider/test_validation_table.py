"""Every invalid argument is rejected before any AWS call, naming the argument and the rule.

Runs against the emulator (in-process and over HTTP) so its counters can prove that nothing
was submitted.
"""

from __future__ import annotations

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_batch_service.operators.batch_service import BatchSubmitServiceJobOperator

from .support import (
    PAYLOAD,
    emu_in_process_and_http,  # noqa: F401  (the ``emu`` fixture)
    make_context,
    submit,
)

RULES = [{"action": "RETRY", "onStatusReason": f"r{i}*"} for i in range(6)]

# (case id, operator arguments overriding the valid ones, argument named, words in the rule)
CASES = [
    ("job_name-empty", {"job_name": ""}, "job_name", "is required"),
    ("job_name-chars", {"job_name": "bad name!"}, "job_name", "letters, digits"),
    ("job_name-long", {"job_name": "x" * 129}, "job_name", "at most 128 characters, got 129"),
    ("job_queue-empty", {"job_queue": ""}, "job_queue", "is required"),
    ("service_job_type", {"service_job_type": "FOO"}, "service_job_type", "SAGEMAKER_TRAINING"),
    (
        "payload-not-json",
        {"service_request_payload": "{not json"},
        "service_request_payload",
        "not JSON",
    ),
    (
        "payload-not-object",
        {"service_request_payload": "[1, 2]"},
        "service_request_payload",
        "JSON object",
    ),
    ("payload-type", {"service_request_payload": 42}, "service_request_payload", "dict or a JSON"),
    (
        "payload-model-missing",
        {"service_request_payload": {"TrainingJobName": "a"}},
        "service_request_payload",
        'Missing required parameter in input: "RoleArn"',
    ),
    (
        "payload-model-type",
        {
            "service_request_payload": {
                **PAYLOAD,
                "ResourceConfig": {**PAYLOAD["ResourceConfig"], "InstanceCount": "1"},
            }
        },
        "service_request_payload",
        "ResourceConfig.InstanceCount",
    ),
    (
        "payload-model-unknown",
        {"service_request_payload": {**PAYLOAD, "Hyperparams": {}}},
        "service_request_payload",
        'Unknown parameter in input: "Hyperparams"',
    ),
    (
        "payload-training-job-name-long",
        {"service_request_payload": {**PAYLOAD, "TrainingJobName": "a" * 24}},
        "service_request_payload",
        "AWSBatch<TrainingJobName><32 hex",
    ),
    ("retry-attempts-0", {"retry_strategy": {"attempts": 0}}, "retry_strategy", "between 1 and 10"),
    (
        "retry-attempts-11",
        {"retry_strategy": {"attempts": 11}},
        "retry_strategy",
        "between 1 and 10",
    ),
    (
        "retry-attempts-missing",
        {"retry_strategy": {"evaluateOnExit": []}},
        "retry_strategy",
        "retryStrategy.attempts): is required",
    ),
    (
        "retry-attempts-type",
        {"retry_strategy": {"attempts": "3"}},
        "retry_strategy",
        "must be an integer",
    ),
    (
        "retry-six-rules",
        {"retry_strategy": {"attempts": 2, "evaluateOnExit": RULES}},
        "retry_strategy",
        "at most 5",
    ),
    (
        "retry-action",
        {
            "retry_strategy": {
                "attempts": 2,
                "evaluateOnExit": [{"action": "MAYBE", "onStatusReason": "*"}],
            }
        },
        "retry_strategy",
        "RETRY, EXIT",
    ),
    (
        "retry-pattern-long",
        {
            "retry_strategy": {
                "attempts": 2,
                "evaluateOnExit": [{"action": "EXIT", "onStatusReason": "x" * 513}],
            }
        },
        "retry_strategy",
        "1-512",
    ),
    (
        "retry-pattern-unprintable",
        {
            "retry_strategy": {
                "attempts": 2,
                "evaluateOnExit": [{"action": "EXIT", "onStatusReason": "a\x01"}],
            }
        },
        "retry_strategy",
        "printable",
    ),
    (
        "retry-pattern-missing",
        {"retry_strategy": {"attempts": 2, "evaluateOnExit": [{"action": "EXIT"}]}},
        "retry_strategy",
        "is required",
    ),
    (
        "retry-unknown-key",
        {"retry_strategy": {"attempts": 2, "bogus": 1}},
        "retry_strategy",
        "unknown key",
    ),
    ("retry-not-json", {"retry_strategy": "{attempts"}, "retry_strategy", "JSON object string"),
    ("priority-low", {"scheduling_priority": -1}, "scheduling_priority", "between 0 and 9999"),
    ("priority-high", {"scheduling_priority": 10000}, "scheduling_priority", "between 0 and 9999"),
    ("priority-type", {"scheduling_priority": "high"}, "scheduling_priority", "must be an integer"),
    ("share-chars", {"share_identifier": "bad id!"}, "share_identifier", "1-255"),
    ("quota-long", {"quota_share_name": "q" * 256}, "quota_share_name", "1-255"),
    (
        "share-and-quota",
        {"share_identifier": "a", "quota_share_name": "b"},
        "quota_share_name",
        "together with share_identifier (shareIdentifier)",
    ),
    (
        "preemption-negative",
        {"preemption_configuration": {"preemptionRetriesBeforeTermination": -1}},
        "preemption_configuration",
        "at least 0",
    ),
    (
        "preemption-unknown",
        {"preemption_configuration": {"retries": 1}},
        "preemption_configuration",
        "unknown key",
    ),
    (
        "timeout-zero",
        {"timeout_config": {"attemptDurationSeconds": 0}},
        "timeout_config",
        "at least 1",
    ),
    ("timeout-unknown", {"timeout_config": {"seconds": 5}}, "timeout_config", "unknown key"),
    ("tags-empty", {"tags": {}}, "tags", "1-50"),
    ("tags-too-many", {"tags": {f"k{i}": "v" for i in range(51)}}, "tags", "1-50"),
    ("tags-key-long", {"tags": {"k" * 129: "v"}}, "tags", "1-128"),
    ("tags-value-long", {"tags": {"k": "v" * 257}}, "tags", "at most 256"),
    ("tags-aws-prefix", {"tags": {"aws:x": "v"}}, "tags", "reserved"),
    (
        "retry-path-zero-based",
        {
            "retry_strategy": {
                "attempts": 2,
                "evaluateOnExit": [{"action": "MAYBE", "onStatusReason": "*"}],
            }
        },
        "retry_strategy",
        "(retryStrategy.evaluateOnExit[0].action)",
    ),
    (
        "payload-over-10-kib",
        {
            "service_request_payload": {
                **PAYLOAD,
                "Environment": {f"K{i}": "v" * 1000 for i in range(11)},
            }
        },
        "service_request_payload",
        "bytes as JSON; AWS Batch allows at most 10,240 (10 KiB)",
    ),
    # Each field within its own bound, the whole over AWS's 30 KiB for a request.
    (
        "request-over-30-kib",
        {
            "service_request_payload": {
                **PAYLOAD,
                "Environment": {f"K{i}": "v" * 1000 for i in range(9)},
            },
            "tags": {f"k{i:03d}" + "x" * 124: "v" * 256 for i in range(50)},
            "retry_strategy": {
                "attempts": 2,
                "evaluateOnExit": [
                    {"action": "EXIT", "onStatusReason": f"{i}" + "*" * 500} for i in range(5)
                ],
            },
        },
        "request",
        "the whole SubmitServiceJob request is",
    ),
    ("client-token-empty", {"client_token": ""}, "client_token", "1-64"),
    ("client-token-long", {"client_token": "t" * 65}, "client_token", "1-64"),
]


@pytest.mark.parametrize(
    ("overrides", "argument", "rule"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_invalid_argument_is_rejected_before_any_call(emu, capsys, overrides, argument, rule):
    arguments = {
        "job_name": "valid-name",
        "job_queue": emu.queue_name,
        "service_request_payload": PAYLOAD,
        **overrides,
    }
    op = BatchSubmitServiceJobOperator(task_id="submit", aws_conn_id="emu", **arguments)
    with pytest.raises(AirflowFailException) as err:
        op.execute(make_context())
    message = str(err.value)
    assert f"- {argument} (" in message, message
    assert rule in message, message
    assert "nothing was submitted" in message
    assert rule in capsys.readouterr().out
    assert emu.stats().get("SubmitServiceJob", 0) == 0


def test_sdk_style_prefix_rule_only_warns(emu, capsys):
    strategy = {
        "attempts": 2,
        "evaluateOnExit": [
            {
                "action": "RETRY",
                "onStatusReason": "Received status from SageMaker:InternalServerError*",
            }
        ],
    }
    submit(emu, "warned", retry_strategy=strategy)
    out = capsys.readouterr().out
    assert "can never match" in out and "warning" in out.lower()
    assert emu.stats()["SubmitServiceJob"] == 1
