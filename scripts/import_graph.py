#!/usr/bin/env python
"""Print the package's import graph facts the architecture test enforces.

Usage: ``.venv/bin/python scripts/import_graph.py [-v]``: the number of imports inside
functions (``-v`` lists each with its reason), the import cycles, and the imports that cross
the layers the wrong way (``tests/architecture/graph.py`` holds the graph and the rules).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.architecture import graph
from tests.architecture.test_layers import violations


def main() -> int:
    statements = graph.in_function_statements()
    print(f"imports inside functions: {len(statements)}")
    if "-v" in sys.argv:
        for imp in sorted(statements, key=lambda i: (i.source, i.line)):
            print(f"  {imp.source}:{imp.line}  {imp.reason or '(no reason given)'}")
    cycles = graph.cycles()
    print(f"import cycles: {len(cycles)}")
    for cycle in cycles:
        print("  " + " <-> ".join(cycle))
    crossing = violations(graph.all_imports())
    print(f"imports crossing the layers: {len(crossing)}")
    for line in crossing:
        print("  " + line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
