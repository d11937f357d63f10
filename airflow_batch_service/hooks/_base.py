"""How the hook builds its boto3 clients, and reaches the process's shared ones.

One base for every group of the hook's calls (``_queues``, ``_training``, ``_resources`` and
``batch_service`` itself), so each group is a short module of its own while all of them build
clients one way: the ``aws`` connection through :class:`AwsBaseHook`, the botocore defaults of
:data:`DEFAULT_BOTOCORE_CONFIG` under the connection's own settings (the module doc of
``batch_service`` says why), one client per service per hook for blocking calls, and the
process's shared client (``_clients``) for the ``async`` twins. The small response helpers
live here too, since every group needs them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from functools import cached_property, partial
from typing import Any, Self

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from botocore.config import Config

from airflow_batch_service.hooks._clients import (
    ashared_client,
    run_blocking,
    run_long_poll,
    shared_client,
)

#: botocore settings used unless the connection or ``botocore_config`` sets them.
DEFAULT_BOTOCORE_CONFIG: dict[str, Any] = {
    "retries": {"mode": "standard", "total_max_attempts": 3},
    "connect_timeout": 5,
    "read_timeout": 20,
}


def strip_metadata(response: Mapping[str, Any]) -> dict[str, Any]:
    """A response without botocore's ``ResponseMetadata``."""
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def without_none(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` without the keys whose value is None (an API request: None means unset)."""
    return {k: v for k, v in values.items() if v is not None}


def first(response: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    """The first item of a describe's ``key`` list, or None when there is none (no such
    resource)."""
    return next(iter(response.get(key) or []), None)


def pages(call: Callable[..., Mapping[str, Any]], **params: Any) -> Iterator[Mapping[str, Any]]:
    """Every page of a ``nextToken``-paginated call, in order."""
    while True:
        page = call(**params)
        yield page
        token = page.get("nextToken")
        if not token:
            return
        params["nextToken"] = token


class BatchServiceHookBase(AwsBaseHook):
    """The client side of ``BatchServiceJobHook``: connection arguments, clients, config.

    Takes the usual :class:`AwsBaseHook` arguments (``aws_conn_id``, ``region_name``,
    ``verify``, ``config``); ``client_type`` is always ``batch``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "batch"
        config = kwargs.get("config")
        #: The botocore config as given (a dict), the shared clients' key.
        self.botocore_config: dict[str, Any] | None = (
            dict(config) if isinstance(config, Mapping) else None
        )
        super().__init__(*args, **kwargs)
        self._clients: dict[str, Any] = {}

    def connection_args(self) -> dict[str, Any]:
        """This hook's connection arguments as given (not resolved through the connection:
        that lookup must not run on the triggerer's event loop), as tasks and triggers carry
        them; the shared clients' key."""
        return {
            "aws_conn_id": self.aws_conn_id,
            "region_name": self._region_name,
            "verify": self._verify,
            "botocore_config": self.botocore_config,
        }

    def _sibling(self, config: Mapping[str, Any] | None) -> Self:
        """A new hook of this one's connection arguments (its connection looked up anew)."""
        return type(self)(
            aws_conn_id=self.aws_conn_id,
            region_name=self._region_name,
            verify=self._verify,
            config=config,
        )

    def client(self, service: str = "batch") -> Any:
        """This hook's boto3 client for ``service`` (batch, logs, sagemaker): the same
        connection, endpoint overrides (``service_config.<service>``) and botocore defaults;
        built once per hook."""
        if service == "batch":
            return self.conn
        if service not in self._clients:
            sibling = self._sibling(self.botocore_config)
            sibling.client_type = service
            self._clients[service] = sibling.get_client_type()
        return self._clients[service]

    def _new_client(self, service: str) -> Any:
        """A client built afresh for the process's store: a new hook's (the connection looked
        up again). An empty botocore config counts as none, as in the store's key."""
        return self._sibling(self.botocore_config or None).client(service)

    def shared_client(self, service: str = "batch") -> Any:
        """The process's shared ``service`` client for this hook's connection arguments
        (blocking: it may build the client; from a thread of the triggerer)."""
        return shared_client(service, self.connection_args(), partial(self._new_client, service))

    async def _acall(self, service: str, method: str, **params: Any) -> Any:
        """``method`` of the process's shared ``service`` client, off the event loop."""
        client = await ashared_client(
            service, self.connection_args(), partial(self._new_client, service)
        )
        return await run_blocking(getattr(client, method), **params)

    async def _along_poll(self, service: str, method: str, **params: Any) -> Any:
        """:meth:`_acall` for a call that waits seconds by design (a long poll): on a thread
        of its own rather than the AWS pool (``_clients.run_long_poll``)."""
        client = await ashared_client(
            service, self.connection_args(), partial(self._new_client, service)
        )
        return await run_long_poll(getattr(client, method), **params)

    @cached_property
    def _effective_config(self) -> Config:
        return Config(**DEFAULT_BOTOCORE_CONFIG).merge(super().config)

    @property
    def config(self) -> Config:
        """The connection's botocore config over this hook's defaults (see module doc)."""
        return self._effective_config
