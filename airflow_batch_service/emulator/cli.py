"""``airflow-batch-service emulator``: arguments and startup.

Kept free of moto imports at module level: the top-level CLI imports every subcommand's
module to build ``--help``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path
from typing import Any

from airflow_batch_service.emulator import scenarios as scenario_format
from airflow_batch_service.emulator.event_knobs import EventKnobError, EventKnobs, check_queue_name
from airflow_batch_service.emulator.faults import FaultError, FaultPlan
from airflow_batch_service.emulator.quotas import QuotaMode
from airflow_batch_service.emulator.server import EVENT_QUEUE_PREFIX, READY_PREFIX, serve

#: The options, in ``--help`` order: flag -> add_argument keywords.
OPTIONS: dict[str, dict[str, Any]] = {
    "--host": {
        "default": "127.0.0.1",
        "help": "address to bind (default 127.0.0.1, loopback only)",
    },
    "--port": {"type": int, "default": 4566, "help": "port (default 4566; 0 picks a free one)"},
    "--region": {
        "default": "us-east-1",
        "help": "region of the --queue queues (default us-east-1)",
    },
    "--queue": {
        "action": "append",
        "default": [],
        "metavar": "NAME",
        "help": "create a ready SAGEMAKER_TRAINING queue NAME with its service environment "
        "(repeatable)",
    },
    "--scenarios": {
        "type": Path,
        "metavar": "FILE",
        "help": "scenario file (JSON; see docs/emulator.md)",
    },
    "--seconds-per-state": {
        "type": float,
        "metavar": "S",
        "help": "seconds a job spends in each state (default 2)",
    },
    "--client-token-mode": {
        "choices": ("reject", "return_existing"),
        "help": "a repeated identical submit with the same clientToken: reject it (default, as "
        "documented) or return the first job",
    },
    "--faults": {
        "type": Path,
        "metavar": "FILE",
        "help": 'fault plan (JSON: {"faults": {OPERATION: {...}}, "seed": N})',
    },
    "--fault-seed": {
        "type": int,
        "metavar": "N",
        "help": "seed for fault draws (deterministic faults)",
    },
    "--freeze-clock": {
        "action": "store_true",
        "help": "stop the clock: jobs move only via POST /_emulator/clock",
    },
    "--api-quotas": {
        "choices": ("aws", "off"),
        "default": "aws",
        "help": "AWS's API rate quotas: 'aws' (default: SubmitServiceJob 5/s, other Batch calls "
        "50/s, HTTP 429 beyond) or 'off'",
    },
    "--no-run-functions": {
        "action": "store_true",
        "help": "do not run @task.batch_service functions locally: their jobs follow the "
        "scenarios and timing only",
    },
    "--event-queue": {
        "action": "append",
        "default": [],
        "metavar": "NAME",
        "help": "create SQS queue NAME receiving the service jobs' state-change events through "
        "an EventBridge rule, and print its URL (repeatable)",
    },
    "--no-events": {
        "action": "store_true",
        "help": "publish no state-change events to EventBridge",
    },
    "--event-drop": {
        "type": float,
        "metavar": "RATE",
        "help": "share of state-change events never delivered (0..1)",
    },
    "--event-duplicate": {
        "type": float,
        "metavar": "RATE",
        "help": "share of state-change events delivered twice (0..1)",
    },
    "--event-delay": {
        "type": float,
        "metavar": "SECONDS",
        "help": "deliver every state-change event this many (emulator clock) seconds late",
    },
    "--event-reorder": {
        "type": float,
        "metavar": "RATE",
        "help": "share of state-change events held back until after the job's next one (0..1)",
    },
    "--event-seed": {
        "type": int,
        "metavar": "N",
        "help": "seed for the event fault draws (deterministic)",
    },
    "--quiet": {"action": "store_true", "help": "do not log each request"},
}

#: The event knob each ``--event-*`` flag sets.
EVENT_FLAGS = {
    "drop": "--event-drop",
    "duplicate": "--event-duplicate",
    "delay_seconds": "--event-delay",
    "reorder": "--event-reorder",
    "seed": "--event-seed",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    for flag, keywords in OPTIONS.items():
        parser.add_argument(flag, **keywords)


def event_knobs(args: argparse.Namespace, file_events: Any) -> EventKnobs:
    """The startup knobs: the scenario file's ``events``, then the flags (which win)."""
    flags: dict[str, Any] = {
        key: getattr(args, flag[2:].replace("-", "_")) for key, flag in EVENT_FLAGS.items()
    }
    if args.no_events:
        flags["enabled"] = False
    knobs = EventKnobs().merged(file_events)
    return knobs.merged(flags, label=lambda key: EVENT_FLAGS.get(key, "--no-events"))


def run(args: argparse.Namespace) -> int:
    from airflow_batch_service.emulator.settings import (  # lazy: imports moto
        STARTUP,
        ClientTokenMode,
        QueueSpec,
    )

    STARTUP.region = args.region
    STARTUP.queues = [QueueSpec(name) for name in args.queue]
    STARTUP.freeze_clock = args.freeze_clock
    STARTUP.api_quotas = QuotaMode.parse(args.api_quotas)
    STARTUP.run_functions = not args.no_run_functions
    try:
        if args.scenarios is not None:
            STARTUP.scenarios = scenario_format.parse(args.scenarios)
        if args.seconds_per_state is not None:
            STARTUP.seconds_per_state = args.seconds_per_state
        elif STARTUP.scenarios.seconds_per_state is not None:
            STARTUP.seconds_per_state = STARTUP.scenarios.seconds_per_state
        if args.client_token_mode is not None:
            STARTUP.client_token_mode = ClientTokenMode(args.client_token_mode)
        if args.faults is not None:
            document = json.loads(args.faults.read_text())
            faults = (
                document.get("faults", {})
                if "faults" in document or "seed" in document
                else document
            )
            seed = args.fault_seed if args.fault_seed is not None else document.get("seed")
            FaultPlan.parse(faults, seed)  # fail now, not on the first request
            STARTUP.faults, STARTUP.fault_seed = faults, seed
        elif args.fault_seed is not None:
            STARTUP.fault_seed = args.fault_seed
        STARTUP.events = event_knobs(args, STARTUP.scenarios.events)
        STARTUP.event_queues = [check_queue_name(n, "--event-queue") for n in args.event_queue]
    except (OSError, ValueError, FaultError, EventKnobError) as err:
        print(f"airflow-batch-service emulator: {err}", file=sys.stderr)
        return 2
    if args.scenarios is not None and args.seconds_per_state is not None:
        # The command line wins over the file's secondsPerState.
        STARTUP.scenarios = dataclasses.replace(STARTUP.scenarios, seconds_per_state=None)
    if args.quiet:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: binding {args.host}, which is not loopback", file=sys.stderr)

    def ready(url: str) -> None:
        from airflow_batch_service.emulator import control  # lazy: imports moto

        made = [control.event_queue(name, None, STARTUP.region) for name in STARTUP.event_queues]
        print(READY_PREFIX + url, flush=True)
        for queue in made:
            print(f"{EVENT_QUEUE_PREFIX}{url}/{queue['account']}/{queue['queueName']}", flush=True)

    serve(args.host, args.port, on_ready=ready)
    return 0
