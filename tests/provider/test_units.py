"""Unit-level checks that need neither AWS nor the emulator."""

from __future__ import annotations

from unittest import mock

import pytest
from airflow.providers.amazon.aws.links import base_aws
from airflow.providers.common.compat.sdk import AirflowFailException
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    NoCredentialsError,
)

from airflow_batch_service._shared.payload import payload_model_problems
from airflow_batch_service._shared.submit_request import argument_for, build_submit_request
from airflow_batch_service.core import errors
from airflow_batch_service.core.errors import ErrorKind
from airflow_batch_service.core.training_job import (
    BATCH_NAME_OVERHEAD,
    PAYLOAD_NAME_MAX,
    SAGEMAKER_NAME_MAX,
)
from airflow_batch_service.hooks.batch_service import BatchServiceJobHook, classify_exception
from airflow_batch_service.links.batch_service import (
    BatchServiceJobDetailsLink,
    SageMakerTrainingJobLink,
    TrainingJobLogsLink,
)
from airflow_batch_service.naming import unique_training_job_name
from airflow_batch_service.operators.batch_service import BatchSubmitServiceJobOperator
from airflow_batch_service.sensors.batch_service import BatchServiceJobSensor

from .support import PAYLOAD, make_context


def _client_error(code: str, status: int, message: str = "m") -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "DescribeServiceJob",
    )


def test_classify_exception():
    assert (
        classify_exception(_client_error("TooManyRequestsException", 429))[0] is ErrorKind.THROTTLED
    )
    assert classify_exception(_client_error("ServerException", 500))[0] is ErrorKind.TRANSIENT
    not_found = _client_error("ClientException", 400, "Job abc does not exist")
    assert classify_exception(not_found)[0] is ErrorKind.NOT_FOUND
    assert classify_exception(_client_error("AccessDeniedException", 403))[0] is ErrorKind.FATAL
    conn = EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
    assert classify_exception(conn)[0] is ErrorKind.TRANSIENT
    assert classify_exception(NoCredentialsError())[0] is ErrorKind.FATAL
    assert classify_exception(KeyError("bug")) is None


def test_hook_defaults_bound_retries_but_user_config_wins():
    hook = BatchServiceJobHook(aws_conn_id=None, region_name="us-east-1")
    assert hook.client_type == "batch"
    # total_max_attempts: 3 requests in all (botocore's max_attempts would count retries only)
    assert hook.config.retries == {"mode": "standard", "total_max_attempts": 3}
    assert hook.config.read_timeout == 20
    hook = BatchServiceJobHook(
        aws_conn_id=None, region_name="us-east-1", config={"retries": {"max_attempts": 1}}
    )
    assert hook.config.retries == {"max_attempts": 1}
    assert hook.config.connect_timeout == 5


def test_priority_zero_is_sent_and_messages_name_the_argument():
    request, problems = build_submit_request(
        job_name="j", job_queue="q", service_request_payload=PAYLOAD, scheduling_priority=0
    )
    assert problems == []
    assert request["schedulingPriority"] == 0
    assert request["serviceJobType"] == "SAGEMAKER_TRAINING"
    assert argument_for("retryStrategy.evaluateOnExit[2].action") == "retry_strategy"


def test_templated_strings_become_dicts_and_ints():
    request, problems = build_submit_request(
        job_name="j",
        job_queue="q",
        service_request_payload='{"TrainingJobName": "a", '
        '"RoleArn": "arn:aws:iam::123456789012:role/R", "OutputDataConfig": {"S3OutputPath": "s3://b"}}',
        retry_strategy='{"attempts": 2}',
        scheduling_priority="7",
    )
    assert problems == []
    assert request["retryStrategy"] == {"attempts": 2}
    assert request["schedulingPriority"] == 7
    assert isinstance(request["serviceRequestPayload"], str)


def test_validate_payload_false_skips_the_model_check():
    bad = {"TrainingJobName": "x", "Nonsense": 1}
    _, problems = build_submit_request(job_name="j", job_queue="q", service_request_payload=bad)
    assert problems
    _, problems = build_submit_request(
        job_name="j", job_queue="q", service_request_payload=bad, validate_payload=False
    )
    assert problems == []


def test_training_job_name_limit_explains_the_batch_prefix():
    problems = payload_model_problems({**PAYLOAD, "TrainingJobName": "a" * (PAYLOAD_NAME_MAX + 1)})
    assert len(problems) == 1
    assert problems[0].field == "serviceRequestPayload.TrainingJobName"
    assert "AWSBatch" in problems[0].rule and "63" in problems[0].rule
    assert payload_model_problems({**PAYLOAD, "TrainingJobName": "a" * PAYLOAD_NAME_MAX}) == []


def test_links_format_and_cope_with_missing_values():
    common = {"region_name": "eu-west-1", "aws_domain": "aws.amazon.com"}
    assert BatchServiceJobDetailsLink().format_link(**common, job_id="abc") == (
        "https://console.aws.amazon.com/batch/home?region=eu-west-1#service-jobs/detail/abc"
    )
    assert SageMakerTrainingJobLink().format_link(**common, training_job_name="AWSBatchx") == (
        "https://console.aws.amazon.com/sagemaker/home?region=eu-west-1#/jobs/AWSBatchx"
    )
    logs = TrainingJobLogsLink().format_link(**common, training_job_name="AWSBatchx")
    assert logs.endswith(
        "#logsV2:log-groups/log-group/$252Faws$252Fsagemaker$252FTrainingJobs"
        "$3FlogStreamNameFilter$3DAWSBatchx$252F"
    )
    assert TrainingJobLogsLink().format_link(**common) == ""
    assert SageMakerTrainingJobLink().format_link(**common) == ""


def test_operator_template_fields_and_renderers():
    op = BatchSubmitServiceJobOperator(
        task_id="t", job_name="j-{{ run_id }}", job_queue="q", service_request_payload=PAYLOAD
    )
    for field in (
        "job_name",
        "service_request_payload",
        "retry_strategy",
        "scheduling_priority",
        "aws_conn_id",
        "region_name",
        "client_token",
        "tags",
    ):
        assert field in op.template_fields
    assert op.template_fields_renderers["service_request_payload"] == "json"


def test_sensor_backs_off_after_transient_errors_and_returns_false():
    # No connection: the hook is a stand-in answering with the errors.
    sensor = BatchServiceJobSensor(task_id="w", job_id="j", poke_interval=1, timeout=3600)
    hook = mock.Mock()
    hook.describe_service_job.side_effect = [
        _client_error("TooManyRequestsException", 429),
        EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
        ConnectionClosedError(endpoint_url="http://127.0.0.1:1"),
    ]
    with mock.patch.object(BatchServiceJobSensor, "hook", hook):
        context = make_context()
        assert sensor.poke(context) is False
        assert sensor.poke(context) is False
        assert sensor.poke(context) is False
    # three errors in a row: the loop asks for >= 4 s; the sensor stretches its interval.
    assert sensor._get_next_poke_interval(0.0, lambda: 10.0, 4) >= 4


def test_links_cope_with_missing_xcom(monkeypatch):
    monkeypatch.setattr(base_aws.XCom, "get_value", staticmethod(lambda **_: None))
    for link in (BatchServiceJobDetailsLink(), SageMakerTrainingJobLink(), TrainingJobLogsLink()):
        assert link.get_link(mock.Mock(), ti_key=mock.Mock()) == ""


def test_templates_render_into_names_and_payload():
    op = BatchSubmitServiceJobOperator(
        task_id="t",
        job_name="train-{{ run_id }}",
        job_queue="q",
        service_request_payload={**PAYLOAD, "TrainingJobName": "t{{ params.n }}"},
        scheduling_priority="{{ params.p }}",
        params={"n": 7, "p": 0},
    )
    op.render_template_fields({"run_id": "abc", "params": {"n": 7, "p": 0}, "ti": mock.Mock()})
    assert op.job_name == "train-abc"
    assert op.service_request_payload["TrainingJobName"] == "t7"
    request = op.build_request()
    assert request["schedulingPriority"] == 0


def test_name_limit_agrees_with_the_naming_helpers():
    assert PAYLOAD_NAME_MAX == SAGEMAKER_NAME_MAX - BATCH_NAME_OVERHEAD == 23
    name = unique_training_job_name("a-very-long-prefix-for-training", "manual__run")
    assert payload_model_problems({**PAYLOAD, "TrainingJobName": name}) == []


def test_sensor_with_empty_job_id_fails_at_once():
    with pytest.raises(AirflowFailException, match="job_id is None"):
        BatchServiceJobSensor(task_id="w", job_id=None).poke(make_context())  # type: ignore[arg-type]


def test_every_caller_asks_one_classification():
    """Throttles are told from other transient trouble, and both are retryable; the hook's
    name and the core's are the same function."""
    assert classify_exception is errors.classify_exception
    throttle = _client_error("ThrottlingException", 400)
    assert errors.is_retryable(throttle)
    assert errors.is_retryable(_client_error("ServerException", 500))
    assert not errors.is_retryable(_client_error("AccessDeniedException", 403))
    assert not errors.is_retryable(KeyError("bug"))
