"""Quota shares of SAGEMAKER_TRAINING queues with a quota-share scheduling policy: create,
describe, list, update, delete.

A mixin of the :class:`~.catalog.Catalog`: quota shares are checked and stored here; the
world's scheduler (``world_quota``) reads them live, so every change re-times the jobs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_batch_service.core.validation import Problem
from airflow_batch_service.emulator import resources as res
from airflow_batch_service.emulator import scheduler as rules
from airflow_batch_service.emulator.catalog_base import CatalogBase
from airflow_batch_service.emulator.errors import ClientException
from airflow_batch_service.emulator.paging import page
from airflow_batch_service.emulator.resources import QuotaShare


def _preemption_problems(preemption: Any) -> list[Problem]:
    """A quota share's preemptionConfiguration: ``inSharePreemption`` ENABLED or DISABLED."""
    if isinstance(preemption, Mapping) and preemption.get("inSharePreemption") in res.STATES:
        return []
    return [Problem("preemptionConfiguration.inSharePreemption", "must be ENABLED or DISABLED")]


class QuotaShareCatalog(CatalogBase):
    """The quota shares of one account and region."""

    def create_quota_share(self, body: Mapping[str, Any]) -> QuotaShare:
        name = body.get("quotaShareName")
        problems = res.name_problems(name, "quotaShareName")
        problems += res.capacity_limits_problems(body.get("capacityLimits"))
        problems += res.state_problems(body.get("state"))
        sharing = body.get("resourceSharingConfiguration")
        problems += rules.sharing_problems(sharing)
        preemption = body.get("preemptionConfiguration")
        problems += _preemption_problems(preemption)
        self._refuse("CreateQuotaShare", problems)
        queue = self.get_queue(body.get("jobQueue"), "CreateQuotaShare")
        if self.policy_kind(queue.scheduling_policy_arn) != "quotashare":
            raise ClientException(
                f"CreateQuotaShare: jobQueue: job queue {queue.name} has no quota-share scheduling policy"
            )
        arn = self._arn("quota-share", f"{queue.name}/{name}")
        if arn in self.quota_shares:
            raise ClientException(
                f"CreateQuotaShare: quota share {name} already exists on {queue.name}"
            )
        share = QuotaShare(
            name=str(name),
            arn=arn,
            queue_arn=queue.arn,
            capacity_limits=list(body["capacityLimits"]),
            resource_sharing=dict(sharing),  # type: ignore[arg-type]
            preemption=dict(preemption),  # type: ignore[arg-type]
            state=body.get("state") or "ENABLED",
        )
        self.advance_all()
        self.quota_shares[arn] = share
        self._set_tags(arn, body.get("tags"))
        self._changed()
        return share

    def get_quota_share(self, arn: Any, operation: str) -> QuotaShare:
        share = self.quota_shares.get(str(arn))
        if share is None:
            raise ClientException(
                f"{operation}: quotaShareArn: quota share {arn} does not exist (not found)"
            )
        return share

    def update_quota_share(self, body: Mapping[str, Any]) -> QuotaShare:
        share = self.get_quota_share(body.get("quotaShareArn"), "UpdateQuotaShare")
        problems = res.state_problems(body.get("state"))
        problems += res.capacity_limits_problems(body.get("capacityLimits"), required=False)
        if body.get("resourceSharingConfiguration") is not None:
            problems += rules.sharing_problems(body["resourceSharingConfiguration"])
        if body.get("preemptionConfiguration") is not None:
            problems += _preemption_problems(body["preemptionConfiguration"])
        self._refuse("UpdateQuotaShare", problems)
        setters = [
            ("state", "state", str),
            ("capacityLimits", "capacity_limits", list),
            ("resourceSharingConfiguration", "resource_sharing", dict),
            ("preemptionConfiguration", "preemption", dict),
        ]
        self._update(share, body, setters)
        return share

    def delete_quota_share(self, arn: Any) -> None:
        share = self.get_quota_share(arn, "DeleteQuotaShare")
        self._must_be_disabled("DeleteQuotaShare", "quota share", share.name, share.state)
        del self.quota_shares[share.arn]

    def list_quota_shares(self, body: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        queue = self.get_queue(body.get("jobQueue"), "ListQuotaShares")
        shares = [s for s in self.quota_shares.values() if s.queue_arn == queue.arn]
        items, token = page(
            "ListQuotaShares", shares, body.get("maxResults"), body.get("nextToken")
        )
        return [s.describe() for s in items], token
