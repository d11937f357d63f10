"""What every part of the catalog reads: moto's Batch backend, ARNs, the clock, tags, and
looking a record up by ARN or name (service environments, queues, scheduling-policy kinds).

The base of the :class:`~.catalog.Catalog` mixins (``catalog`` for environments and queues,
``quota_catalog`` for quota shares), which :class:`~.backend.ServiceJobBackend` completes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from moto.batch.models import BatchBackend, batch_backends
from moto.batch_simple.models import batch_simple_backends
from moto.core.models import default_user_config
from moto.utilities.utils import get_partition

from airflow_batch_service.core.validation import Problem
from airflow_batch_service.emulator.attempts import AttemptSink
from airflow_batch_service.emulator.errors import ClientException, invalid
from airflow_batch_service.emulator.field_rules import tags_problems
from airflow_batch_service.emulator.jobs import ServiceJob
from airflow_batch_service.emulator.resources import QuotaShare, ServiceEnvironment, ServiceQueue
from airflow_batch_service.emulator.settings import settings

if TYPE_CHECKING:
    from airflow_batch_service.emulator.world import World


class Named(Protocol):
    @property
    def name(self) -> str: ...


R = TypeVar("R", bound=Named)


def find_record(records: Mapping[str, R], identifier: str) -> R | None:
    """A record by its ARN (the key) or its name."""
    if identifier in records:
        return records[identifier]
    for record in records.values():
        if record.name == identifier:
            return record
    return None


class CatalogBase:
    """State and helpers of one account and region's catalog."""

    account_id: str
    region_name: str
    environments: dict[str, ServiceEnvironment]
    queues: dict[str, ServiceQueue]
    quota_shares: dict[str, QuotaShare]
    quota_policies: dict[str, dict[str, Any]]  # scheduling policy ARN -> quotaSharePolicy
    jobs: dict[str, ServiceJob]
    sink: AttemptSink
    world: World

    def advance_all(self) -> None:
        raise NotImplementedError

    def _changed(self) -> None:
        """A setting the scheduler reads changed: re-time the jobs, schedule again now (a
        lowered limit applies to the next decision; a raised one lets jobs start now)."""
        self.world.refresh(self._now())

    @property
    def batch(self) -> BatchBackend:
        """moto's Batch backend for this account and region: the same one moto's handlers
        use (``batch_simple`` when moto is configured not to use Docker)."""
        if default_user_config.get("batch", {}).get("use_docker", True) is False:
            return batch_simple_backends[self.account_id][self.region_name]
        return batch_backends[self.account_id][self.region_name]

    def _arn(self, kind: str, name: str) -> str:
        return f"arn:{get_partition(self.region_name)}:batch:{self.region_name}:{self.account_id}:{kind}/{name}"

    @staticmethod
    def _now() -> float:
        return settings().clock.now()

    def _tags(self, arn: str) -> dict[str, str]:
        return self.batch.list_tags_for_resource(arn)

    def _set_tags(self, arn: str, tags: Mapping[str, str] | None) -> None:
        if tags:
            self.batch.tag_resource(arn, dict(tags))

    @staticmethod
    def _refuse(operation: str, problems: list[Problem], tags: Any = None) -> None:
        """Answer ClientException naming every problem (and those of ``tags``, if given)."""
        if tags is not None:
            problems = [*problems, *tags_problems(tags)]
        if problems:
            raise invalid(operation, problems)

    @staticmethod
    def _must_be_disabled(operation: str, kind: str, name: str, state: str) -> None:
        """Deleting needs the record DISABLED first (documented for all three kinds)."""
        if state != "DISABLED":
            raise ClientException(
                f"{operation}: state: {kind} {name} must be DISABLED before it is deleted"
            )

    def _update(
        self,
        record: Any,
        body: Mapping[str, Any],
        setters: Iterable[tuple[str, str, Callable[[Any], Any]]],
        allow_empty: Collection[str] = (),
    ) -> None:
        """Apply an update: bring the world up to now first (its history so far was made
        under the old settings), set ``attribute = convert(body[key])`` for each
        ``(key, attribute, convert)`` given (a falsy value counts as not given unless the key
        is in ``allow_empty``), then re-time the jobs under the new settings."""
        self.advance_all()
        for key, attribute, convert in setters:
            value = body.get(key)
            if value is not None and (value or key in allow_empty):
                setattr(record, attribute, convert(value))
        self._changed()

    def find_environment(self, identifier: str) -> ServiceEnvironment | None:
        return find_record(self.environments, identifier)

    def find_queue(self, identifier: str) -> ServiceQueue | None:
        return find_record(self.queues, identifier)

    def get_queue(self, identifier: Any, operation: str, field: str = "jobQueue") -> ServiceQueue:
        queue = self.find_queue(str(identifier))
        if queue is not None:
            return queue
        if self.batch.get_job_queue(str(identifier)) is not None:
            raise ClientException(
                f"{operation}: {field}: job queue {identifier} is not of type SAGEMAKER_TRAINING "
                "(service jobs need a SAGEMAKER_TRAINING queue)"
            )
        raise ClientException(
            f"{operation}: {field}: job queue {identifier} does not exist (not found)"
        )

    def policy_kind(self, arn: str | None) -> str | None:
        """ "fairshare", "quotashare" or None for a queue's scheduling policy."""
        if not arn or arn not in self.batch._scheduling_policies:
            return None
        return "quotashare" if arn in self.quota_policies else "fairshare"

    def share_distribution(self, arn: str | None) -> list[dict[str, Any]]:
        """A fair-share policy's shareDistribution (weightFactor per shareIdentifier)."""
        policy = self.batch._scheduling_policies.get(arn) if arn else None
        if policy is None:
            return []
        return list(getattr(policy, "fairshare_policy", {}).get("shareDistribution") or [])
