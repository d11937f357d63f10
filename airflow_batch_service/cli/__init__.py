"""``airflow-batch-service``: the project's command line.

Subcommands are listed in :data:`COMMANDS` as ``name -> (help, module)``. Building the parser
imports every subcommand's module to let it declare its arguments (``add_arguments(parser)``),
and the chosen one's ``run(args) -> int`` then does the work. So a subcommand module must stay
cheap to import, with its heavy dependencies (moto for ``emulator``, Airflow for ``demo``)
imported inside ``run``: that keeps ``--help`` instant. To add one, write ``add_arguments``
and ``run`` in its module and add a line here.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: name -> (one-line help, module exposing add_arguments(parser) and run(args) -> int)
COMMANDS: dict[str, tuple[str, str]] = {
    "emulator": (
        "run the local AWS Batch service-job emulator (moto-based) on loopback",
        "airflow_batch_service.emulator.cli",
    ),
    "demo": (
        "run the example DAGs end to end on the embedded emulator and print each job's timeline",
        "airflow_batch_service.cli.demo",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="airflow-batch-service",
        description="Airflow provider for AWS Batch service jobs: tools.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (help_text, module) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(_module=module)
        # Each module declares its own arguments; importing it must stay cheap.
        importlib.import_module(module).add_arguments(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(importlib.import_module(args._module).run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
