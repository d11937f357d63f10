"""``@task.batch_service``: a Python function as a SageMaker training job through a Batch queue.

Registered as a provider task decorator (``task-decorators`` in the provider info), so
``from airflow.sdk import task`` then ``@task.batch_service(...)`` works, the way
``@task.docker`` and ``@task.kubernetes`` do. Underneath it is ``BatchSubmitServiceJobOperator``
with ``wait_for_completion``: durable submission, evaluateOnExit explanations, deferrable
waits, time limits, log streaming, results, lineage, links and the UI tab apply as they are.
What the decorator adds: the function's source and arguments travel to S3 and into the
container, a standard-library runner calls it there, and the task returns its return value.

A shell: the checks live in ``core.function_checks`` and ``core.function_payload``, the
run-time work (serialize, upload, read the result) in ``airflow_batch_service._shared.
function_task``, imported when the task runs so that parsing a DAG stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import DecoratedOperator, task_decorator_factory

from airflow_batch_service._shared.model_asset import model_asset_outlet
from airflow_batch_service.core.function_checks import function_problems, function_source
from airflow_batch_service.core.function_job import SERIALIZERS
from airflow_batch_service.core.function_payload import ShortForm
from airflow_batch_service.core.model_asset import output_path
from airflow_batch_service.operators.batch_service import BatchSubmitServiceJobOperator

if TYPE_CHECKING:
    from airflow.sdk import Asset, Context
    from airflow.sdk.bases.decorator import TaskDecorator

#: The decorator's own arguments (the short form), templated like the operator's.
SHORT_FORM_FIELDS = (
    "image_uri",
    "role_arn",
    "output_s3_uri",
    "instance_type",
    "instance_count",
    "volume_size_in_gb",
    "max_runtime_in_seconds",
    "environment",
    "hyperparameters",
)


try:
    from airflow.sdk.definitions.context import KNOWN_CONTEXT_KEYS
except ImportError:  # pragma: no cover - a Task SDK that keeps them elsewhere
    KNOWN_CONTEXT_KEYS: set[str] = set()  # type: ignore[no-redef]


def _context_keys() -> frozenset[str]:
    return frozenset(KNOWN_CONTEXT_KEYS)


class BatchServiceDecoratedOperator(DecoratedOperator, BatchSubmitServiceJobOperator):
    """The operator behind ``@task.batch_service``; see :func:`batch_service_task`."""

    custom_operator_name = "@task.batch_service"
    template_fields: Sequence[str] = (
        *DecoratedOperator.template_fields,
        *BatchSubmitServiceJobOperator.template_fields,
        *SHORT_FORM_FIELDS,
    )
    template_fields_renderers = {
        **DecoratedOperator.template_fields_renderers,
        **BatchSubmitServiceJobOperator.template_fields_renderers,
        "environment": "json",
        "hyperparameters": "json",
    }

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        job_queue: str,
        job_name: str | None = None,
        image_uri: str | None = None,
        role_arn: str | None = None,
        output_s3_uri: str | None = None,
        instance_type: str | None = None,
        instance_count: int | None = None,
        volume_size_in_gb: int | None = None,
        max_runtime_in_seconds: int | None = None,
        environment: Mapping[str, str] | None = None,
        hyperparameters: Mapping[str, str] | None = None,
        service_request_payload: dict[str, Any] | None = None,
        serializer: str = "json",
        python_command: str = "python3",
        wait_for_completion: bool = True,
        read_training_result: bool = True,
        model_asset: Asset | str | bool | None = None,
        **kwargs: Any,
    ) -> None:
        problems = function_problems(python_callable, context_keys=_context_keys())
        if serializer not in SERIALIZERS:
            raise ValueError(
                f"@task.batch_service serializer: must be one of {', '.join(SERIALIZERS)}, "
                f"got {serializer!r}"
            )
        if not wait_for_completion or not read_training_result:
            raise ValueError(
                "@task.batch_service waits for its job and reads its training result (the "
                "return value comes from there): wait_for_completion and read_training_result "
                "cannot be turned off"
            )
        if problems:
            raise ValueError(
                "@task.batch_service cannot send this function to a container:\n"
                + "\n".join(f"  - {p.field}: {p.rule}" for p in problems)
            )
        try:
            source = function_source(python_callable)
        except (OSError, SyntaxError) as err:
            raise ValueError(
                f"@task.batch_service needs the source of {python_callable.__name__}() "
                f"(defined in a file): {err}"
            ) from err
        # The output path is output_s3_uri's here (the operator sees only the payload).
        output = output_path(service_request_payload, output_s3_uri=output_s3_uri, short_form=True)
        super().__init__(
            python_callable=python_callable,
            job_queue=job_queue,
            job_name=job_name or "",
            service_request_payload=service_request_payload or {},
            wait_for_completion=True,
            read_training_result=True,
            model_asset=model_asset_outlet(model_asset, output),
            **kwargs,
        )
        self.function_source = source
        self.image_uri = image_uri
        self.role_arn = role_arn
        self.output_s3_uri = output_s3_uri
        self.instance_type = instance_type
        self.instance_count = instance_count
        self.volume_size_in_gb = volume_size_in_gb
        self.max_runtime_in_seconds = max_runtime_in_seconds
        self.environment = environment
        self.hyperparameters = hyperparameters
        self.serializer = serializer
        self.python_command = python_command
        self._channel: str | None = None

    def short_form(self) -> ShortForm:
        """The decorator's short-form arguments, as rendered."""
        return ShortForm(
            image_uri=self.image_uri,
            role_arn=self.role_arn,
            output_s3_uri=self.output_s3_uri,
            instance_type=self.instance_type,
            instance_count=self.instance_count,
            volume_size_in_gb=self.volume_size_in_gb,
            max_runtime_in_seconds=self.max_runtime_in_seconds,
            environment=self.environment,
            hyperparameters=self.hyperparameters,
            python_command=self.python_command,
        )

    def _prepare(self, context: Context, *, upload: bool) -> None:
        from airflow_batch_service._shared import function_task  # lazy: keeps DAG parsing cheap

        if not self.job_name:
            self.job_name = function_task.default_job_name(self, context)
        if self._channel is not None:
            return
        self._channel, files = function_task.prepare(self, context)
        if upload:
            function_task.upload(self, self._channel, files)

    def execute(self, context: Context) -> Any:
        self._prepare(context, upload=True)
        BatchSubmitServiceJobOperator.execute(self, context)
        return self._result()

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        self._prepare(context, upload=False)
        BatchSubmitServiceJobOperator.execute_complete(self, context, event)
        return self._result()

    def _result(self) -> Any:
        from airflow_batch_service._shared import function_task  # lazy: keeps DAG parsing cheap

        return function_task.read_result(self)


def batch_service_task(
    python_callable: Callable[..., Any] | None = None,
    multiple_outputs: bool | None = None,
    **kwargs: Any,
) -> TaskDecorator:
    """Run the decorated function as a SageMaker training job through a Batch job queue.

    ``@task.batch_service(job_queue=..., image_uri=..., role_arn=..., output_s3_uri=...)``.
    The short form fills the training job's usual fields: ``image_uri`` (the training image;
    it must have Python 3.8+ as ``python_command``, default ``python3``), ``role_arn``,
    ``output_s3_uri`` (where the result, the model and the function's files go),
    ``instance_type``, ``instance_count``, ``volume_size_in_gb``, ``max_runtime_in_seconds``,
    ``environment`` (never secrets: it is readable through DescribeTrainingJob) and
    ``hyperparameters``. ``service_request_payload`` is the full CreateTrainingJob request as
    the escape hatch; a field given both ways must agree. ``serializer``: ``"json"`` (default)
    or ``"cloudpickle"`` (the ``cloudpickle`` extra, the same Python in image and worker).
    ``job_name`` defaults to the task id. Every other argument is
    ``BatchSubmitServiceJobOperator``'s (``retry_strategy``, ``scheduling_priority``,
    ``quota_share_name``, ``timeout_config``, ``tags``, ``deferrable``, ``stream_logs``,
    ``model_asset``...). With ``model_asset``, ``True`` and ``{output_path}`` stand for
    ``output_s3_uri`` (else the payload's ``OutputDataConfig.S3OutputPath``), which must then
    be literal when the DAG is parsed.

    The task's return value is the function's, read from the job's ``output.tar.gz``; with
    ``multiple_outputs`` a returned dict becomes one XCom per key.
    """
    return task_decorator_factory(
        python_callable=python_callable,
        multiple_outputs=multiple_outputs,
        decorated_operator_class=BatchServiceDecoratedOperator,
        **kwargs,
    )
