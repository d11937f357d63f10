"""Draw the docs' diagrams as SVG from the declarative specs in ``docs/diagrams/*.toml``.

Pure standard library (``tomllib``, string formatting): no Graphviz, no network, nothing CI
could lack. A spec places boxes on a grid and lists the arrows between them; this module turns
grid units into pixels, routes arrows along straight or right-angled paths, and puts every label
on a white halo so it stays readable where it crosses a line.

The retry-decision spec is also a program: each decision box names a test and its yes/no
successors, and each outcome box names the ``Cause`` it ends in. :func:`walk_decision` runs
that program, and :func:`check_decision_spec` compares it with
``airflow_batch_service.core.retry.decide`` on every combination of inputs that matters, so
the picture cannot drift from the code. :func:`check_lifecycle_spec` does the same for the
lifecycle's states against ``core.status``.

Run it to regenerate: ``python docs/_tooling/diagrams.py`` (``--check`` only compares).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

DIAGRAM_DIR = Path(__file__).resolve().parent.parent / "diagrams"

FONT = "DejaVu Sans, Verdana, Arial, Helvetica, sans-serif"
# Conservative average glyph width (em) for the fonts above; used to size boxes and halos.
CHAR_EM = 0.6

#: Arrow colours and dash patterns, by edge ``kind``.
EDGE_STYLES: dict[str, tuple[str, str | None]] = {
    "flow": ("#3d4450", None),
    "requeue": ("#1f5fbf", "7 4"),
    "retry": ("#7a3fc4", None),
    "success": ("#1a7f37", None),
    "fail": ("#c0262d", None),
    "terminate": ("#c0262d", "7 4"),
    "yes": ("#3d4450", None),
    "no": ("#3d4450", None),
}

#: Box fill and stroke, by node ``kind``.
NODE_STYLES: dict[str, tuple[str, str]] = {
    "waiting": ("#eaf1fd", "#1f5fbf"),
    "active": ("#fff4dc", "#a86a00"),
    "success": ("#e3f3e7", "#1a7f37"),
    "fail": ("#fde7e8", "#c0262d"),
    "retry": ("#f1e9fb", "#7a3fc4"),
    "decision": ("#f5f6f8", "#3d4450"),
    "start": ("#ffffff", "#3d4450"),
}


def text_width(text: str, size: float) -> float:
    return len(text) * size * CHAR_EM


@dataclass(frozen=True)
class Box:
    id: str
    kind: str
    cx: float
    cy: float
    w: float
    h: float
    title: str
    lines: tuple[str, ...]

    @property
    def left(self) -> float:
        return self.cx - self.w / 2

    @property
    def right(self) -> float:
        return self.cx + self.w / 2

    @property
    def top(self) -> float:
        return self.cy - self.h / 2

    @property
    def bottom(self) -> float:
        return self.cy + self.h / 2

    def port(self, side: str, offset: float = 0.0) -> tuple[float, float]:
        """A point on ``side``; ``offset`` in -0.5..0.5 slides it along that side."""
        if side == "left":
            return (self.left, self.cy + offset * self.h)
        if side == "right":
            return (self.right, self.cy + offset * self.h)
        if side == "top":
            return (self.cx + offset * self.w, self.top)
        if side == "bottom":
            return (self.cx + offset * self.w, self.bottom)
        raise ValueError(f"unknown side {side!r}")


class Canvas:
    """Collects SVG elements and the extent they cover."""

    def __init__(self) -> None:
        self.shapes: list[str] = []
        self.labels: list[str] = []
        #: Boxes and label halos, to check that nothing covers anything else.
        self.solids: list[tuple[str, float, float, float, float]] = []
        self.min_x = self.min_y = float("inf")
        self.max_x = self.max_y = float("-inf")

    def cover(self, x0: float, y0: float, x1: float, y1: float) -> None:
        self.min_x, self.min_y = min(self.min_x, x0, x1), min(self.min_y, y0, y1)
        self.max_x, self.max_y = max(self.max_x, x0, x1), max(self.max_y, y0, y1)

    def text_block(
        self,
        cx: float,
        cy: float,
        lines: Sequence[str],
        *,
        size: float = 12,
        bold_first: bool = False,
        color: str = "#1f2328",
        halo: bool = True,
        anchor: str = "middle",
    ) -> None:
        """Lines of text centred (or left-aligned, ``anchor="start"``) on a point."""
        lead = size * 1.3
        height = lead * len(lines)
        width = max(text_width(line, size) for line in lines)
        x0 = cx - width / 2 if anchor == "middle" else cx
        top = cy - height / 2
        self.solids.append(
            (f"label {lines[0]!r}", x0 - 4, top - 1, x0 + width + 4, top + height + 1)
        )
        if halo:
            self.labels.append(
                f'<rect x="{x0 - 4:.1f}" y="{top - 1:.1f}" width="{width + 8:.1f}" '
                f'height="{height + 2:.1f}" rx="3" fill="#ffffff" fill-opacity="0.92"/>'
            )
        for i, line in enumerate(lines):
            weight = ' font-weight="bold"' if bold_first and i == 0 else ""
            baseline = top + lead * i + size * 1.0
            self.labels.append(
                f'<text x="{cx:.1f}" y="{baseline:.1f}" font-size="{size:g}" '
                f'text-anchor="{anchor}" fill="{color}"{weight}>{escape(line)}</text>'
            )
        self.cover(x0 - 4, top - 1, x0 + width + 4, top + height + 1)

    def box(self, box: Box) -> None:
        fill, stroke = NODE_STYLES[box.kind]
        if box.kind == "decision":
            # A hexagon: reads as "a question" without a diamond's wasted corners.
            d = box.h / 2
            pts = [
                (box.left, box.cy),
                (box.left + d, box.top),
                (box.right - d, box.top),
                (box.right, box.cy),
                (box.right - d, box.bottom),
                (box.left + d, box.bottom),
            ]
            coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            self.shapes.append(
                f'<polygon points="{coords}" fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>'
            )
        else:
            radius = box.h / 2 if box.kind == "start" else 8
            self.shapes.append(
                f'<rect x="{box.left:.1f}" y="{box.top:.1f}" width="{box.w:.1f}" '
                f'height="{box.h:.1f}" rx="{radius:g}" fill="{fill}" stroke="{stroke}" '
                'stroke-width="1.5"/>'
            )
        self.cover(box.left, box.top, box.right, box.bottom)
        self.solids.append((f"box {box.id}", box.left, box.top, box.right, box.bottom))
        lines = [box.title, *box.lines] if box.title else list(box.lines)
        sizes = [14.0] + [11.5] * len(box.lines) if box.title else [12.0] * len(box.lines)
        lead = [s * 1.3 for s in sizes]
        y = box.cy - sum(lead) / 2
        for line, size, step in zip(lines, sizes, lead, strict=True):
            weight = ' font-weight="bold"' if box.title and line == box.title else ""
            self.labels.append(
                f'<text x="{box.cx:.1f}" y="{y + size:.1f}" font-size="{size:g}" '
                f'text-anchor="middle" fill="#1f2328"{weight}>{escape(line)}</text>'
            )
            y += step

    def path(self, points: Sequence[tuple[float, float]], kind: str, *, arrow: bool = True) -> None:
        color, dash = EDGE_STYLES[kind]
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        marker = f' marker-end="url(#arrow-{kind})"' if arrow else ""
        self.shapes.append(
            f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="1.8"'
            f"{dash_attr}{marker}/>"
        )
        for x, y in points:
            self.cover(x, y, x, y)

    def overlaps(self) -> list[str]:
        """Pairs of boxes and labels that cover each other (lines may pass under labels)."""
        found = []
        for (a, ax0, ay0, ax1, ay1), (b, bx0, by0, bx1, by1) in itertools.combinations(
            self.solids, 2
        ):
            if ax0 < bx1 and bx0 < ax1 and ay0 < by1 and by0 < ay1:
                found.append(f"{a} overlaps {b}")
        return found

    def render(self, title: str, margin: float = 16) -> str:
        width = self.max_x - self.min_x + 2 * margin
        title_h = 34
        height = self.max_y - self.min_y + 2 * margin + title_h
        dx, dy = margin - self.min_x, margin + title_h - self.min_y
        markers = "".join(
            f'<marker id="arrow-{kind}" viewBox="0 0 10 10" refX="9" refY="5" '
            'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
            f'<path d="M0,0 L10,5 L0,10 z" fill="{color}"/></marker>'
            for kind, (color, _) in EDGE_STYLES.items()
        )
        body = "\n".join([*self.shapes, *self.labels])
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="{FONT}" role="img" '
            f'aria-label="{escape(title)}">\n'
            f"<title>{escape(title)}</title>\n"
            f"<defs>{markers}</defs>\n"
            f'<rect width="100%" height="100%" fill="#ffffff"/>\n'
            f'<text x="{margin:.1f}" y="{margin + 18:.1f}" font-size="17" font-weight="bold" '
            f'fill="#1f2328">{escape(title)}</text>\n'
            f'<g transform="translate({dx:.1f},{dy:.1f})">\n{body}\n</g>\n</svg>\n'
        )


def load_spec(path: Path) -> dict[str, Any]:
    with path.open("rb") as fh:
        return tomllib.load(fh)


def _boxes(spec: Mapping[str, Any]) -> dict[str, Box]:
    grid = spec["grid"]
    col, row = float(grid["col"]), float(grid["row"])
    default_w, default_h = float(grid["box_w"]), float(grid["box_h"])
    boxes: dict[str, Box] = {}
    for node in spec["node"]:
        x, y = node["at"]
        lines = tuple(node.get("lines", ()))
        title = node.get("title", "")
        need = max([text_width(title, 14)] + [text_width(s, 11.5) for s in lines]) + 24
        if node["kind"] == "decision":  # the hexagon's slanted ends take room from the text
            need += float(node.get("h", default_h))
        w = max(float(node.get("w", default_w)), need)
        boxes[node["id"]] = Box(
            id=node["id"],
            kind=node["kind"],
            cx=x * col,
            cy=y * row,
            w=w,
            h=float(node.get("h", default_h)),
            title=title,
            lines=lines,
        )
    return boxes


def _route(
    start: tuple[float, float],
    end: tuple[float, float],
    exit_side: str,
    via_y: float | None,
    via_x: float | None,
) -> list[tuple[float, float]]:
    """Straight when aligned, otherwise right angles through a lane (``via_y``/``via_x``)."""
    (x0, y0), (x1, y1) = start, end
    if via_y is not None:
        return [start, (x0, via_y), (x1, via_y), end]
    if via_x is not None:
        return [start, (via_x, y0), (via_x, y1), end]
    if abs(x0 - x1) < 0.5 or abs(y0 - y1) < 0.5:
        return [start, end]
    if exit_side in ("left", "right"):
        mid = (x0 + x1) / 2
        return [start, (mid, y0), (mid, y1), end]
    mid = (y0 + y1) / 2
    return [start, (x0, mid), (x1, mid), end]


def _label_point(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """Middle of the longest segment: where a label has the most room."""
    segments = list(itertools.pairwise(points))
    (ax, ay), (bx, by) = max(
        segments, key=lambda s: abs(s[0][0] - s[1][0]) + abs(s[0][1] - s[1][1])
    )
    return ((ax + bx) / 2, (ay + by) / 2)


def _edges(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Explicit ``[[edge]]`` entries, plus the yes/no arrows of decision nodes."""
    edges = [dict(e) for e in spec.get("edge", ())]
    for node in spec["node"]:
        for answer in ("yes", "no"):
            if answer in node:
                edge = {"from": node["id"], "to": node[answer], "kind": answer, "label": [answer]}
                # Default shape of a flowchart: "yes" branches right, "no" carries on down.
                if answer == "no":
                    edge.update(exit="bottom", enter="top")
                edge.update(node.get(f"{answer}_edge", {}))
                edges.append(edge)
    return edges


def render(spec: Mapping[str, Any]) -> str:
    return draw(spec).render(spec["title"])


def draw(spec: Mapping[str, Any]) -> Canvas:
    grid = spec["grid"]
    col, row = float(grid["col"]), float(grid["row"])
    boxes = _boxes(spec)
    canvas = Canvas()
    for box in boxes.values():
        canvas.box(box)

    for edge in _edges(spec):
        src, dst = boxes[edge["from"]], boxes[edge["to"]]
        exit_side = edge.get("exit", "right")
        enter_side = edge.get("enter", "left")
        start = src.port(exit_side, float(edge.get("exit_offset", 0)))
        end = dst.port(enter_side, float(edge.get("enter_offset", 0)))
        via_y = edge["via_y"] * row if "via_y" in edge else None
        via_x = edge["via_x"] * col if "via_x" in edge else None
        points = _route(start, end, exit_side, via_y, via_x)
        canvas.path(points, edge.get("kind", "flow"))
        label = edge.get("label")
        if label:
            if "label_at" in edge:
                lx, ly = edge["label_at"]
                at = (lx * col, ly * row)
            else:
                at = _label_point(points)
            color = EDGE_STYLES[edge.get("kind", "flow")][0]
            canvas.text_block(*at, label, size=float(edge.get("label_size", 11.5)), color=color)

    for bus in spec.get("bus", ()):
        # Several sources joined on one horizontal line that runs into a single target.
        y = bus["y"] * row
        sources = [boxes[s] for s in bus["from"]]
        dst = boxes[bus["to"]]
        offset = float(bus.get("exit_offset", 0))
        for src in sources:
            canvas.path(
                [src.port("bottom", offset), (src.port("bottom", offset)[0], y)],
                bus["kind"],
                arrow=False,
            )
        first_x = min(s.port("bottom", offset)[0] for s in sources)
        end = dst.port(bus.get("enter", "bottom"), float(bus.get("enter_offset", 0)))
        canvas.path([(first_x, y), (end[0], y), end], bus["kind"])
        lx, ly = bus["label_at"]
        color = EDGE_STYLES[bus["kind"]][0]
        canvas.text_block(lx * col, ly * row, bus["label"], size=11.5, color=color)

    for note in spec.get("note", ()):
        x, y = note["at"]
        canvas.text_block(
            x * col,
            y * row,
            note["lines"],
            size=float(note.get("size", 11.5)),
            color=note.get("color", "#57606a"),
            halo=False,
            anchor=note.get("anchor", "start"),
        )
    return canvas


# --- The retry decision as a program, checked against core.retry.decide --------------------


@dataclass(frozen=True)
class Case:
    """One input to the decision: what ``decide`` receives."""

    strategy: Any  # core.retry.RetryStrategy
    reason: str
    attempt: int
    terminated: bool


def _tests() -> dict[str, Any]:
    from airflow_batch_service.core import reasons
    from airflow_batch_service.core.retry import RetryAction

    def first_rule_is_exit(case: Case) -> bool:
        rule = case.strategy.first_match(case.reason)
        return rule is not None and rule.action is RetryAction.EXIT

    return {
        "terminated": lambda case: case.terminated,
        "timed_out": lambda case: reasons.is_timeout(case.reason),
        "first_rule_is_exit": first_rule_is_exit,
        "attempts_left": lambda case: case.attempt < case.strategy.attempts,
        "rule_matched": lambda case: case.strategy.first_match(case.reason) is not None,
    }


def walk_decision(spec: Mapping[str, Any], case: Case) -> tuple[str, bool]:
    """Follow the diagram for ``case``: the ``(cause, retry)`` of the outcome box reached."""
    nodes = {n["id"]: n for n in spec["node"]}
    tests = _tests()
    node = nodes[spec["decision"]["start"]]
    for _ in range(len(nodes) + 1):
        if "cause" in node:
            return node["cause"], bool(node["retry"])
        if "test" in node:
            node = nodes[node["yes"] if tests[node["test"]](case) else node["no"]]
        else:
            node = nodes[node["next"]]
    raise ValueError("the decision diagram has a cycle")


def decision_cases() -> Iterable[Case]:
    """Every combination that distinguishes the branches: strategies with EXIT and RETRY rules,
    a catch-all, none at all; reasons that match each rule, none, a timeout; first and last
    attempts; terminated or not."""
    from airflow_batch_service.core import reasons
    from airflow_batch_service.core.retry import RetryStrategy

    strategies = [
        RetryStrategy.from_api(None),
        RetryStrategy.from_api({"attempts": 3}),
        RetryStrategy.from_api(
            {
                "attempts": 5,
                "evaluateOnExit": [
                    {
                        "action": "RETRY",
                        "onStatusReason": reasons.sagemaker("InternalServerError*"),
                    },
                    {"action": "EXIT", "onStatusReason": reasons.sagemaker("ValidationException*")},
                    {"action": "EXIT", "onStatusReason": "*"},
                ],
            }
        ),
        RetryStrategy.from_api(
            {
                "attempts": 2,
                "evaluateOnExit": [{"action": "RETRY", "onStatusReason": "*Error*"}],
            }
        ),
        RetryStrategy.from_api(
            {
                "attempts": 4,
                "evaluateOnExit": [
                    {"action": "EXIT", "onStatusReason": "*Timeout*"},
                    {"action": "RETRY", "onStatusReason": "*"},
                ],
            }
        ),
    ]
    reason_list = [
        reasons.sagemaker("InternalServerError: We encountered an internal error."),
        reasons.sagemaker("ValidationException: RoleArn is not valid"),
        reasons.sagemaker("ClientError: Please check your training script"),
        reasons.ATTEMPT_TIMEOUT,
        reasons.ATTEMPT_TIMEOUT + " (Timeout)",
        "",
    ]
    for strategy, reason, terminated in itertools.product(strategies, reason_list, (False, True)):
        for attempt in sorted({1, max(1, strategy.attempts - 1), strategy.attempts}):
            yield Case(strategy, reason, attempt, terminated)


def check_decision_spec(spec: Mapping[str, Any]) -> list[str]:
    """Problems where the diagram and ``core.retry.decide`` disagree; empty when they agree."""
    from airflow_batch_service.core.retry import Cause, decide

    problems: list[str] = []
    leaves = {n["cause"] for n in spec["node"] if "cause" in n}
    for cause in leaves - {c.value for c in Cause}:
        problems.append(f"outcome box names {cause!r}, which is not a core.retry.Cause")
    seen: set[str] = set()
    for case in decision_cases():
        decision = decide(case.strategy, case.reason, case.attempt, terminated=case.terminated)
        seen.add(decision.cause.value)
        drawn = walk_decision(spec, case)
        if drawn != (decision.cause.value, decision.retry):
            problems.append(
                f"attempt {case.attempt}/{case.strategy.attempts} reason={case.reason!r} "
                f"terminated={case.terminated}: diagram says {drawn}, decide() says "
                f"{(decision.cause.value, decision.retry)}"
            )
    for cause in seen - leaves:
        problems.append(f"decide() can answer {cause!r} but the diagram has no box for it")
    return problems


def check_lifecycle_spec(spec: Mapping[str, Any]) -> list[str]:
    """The lifecycle diagram draws real statuses, and all of the documented path."""
    from airflow_batch_service.core.status import LIFECYCLE, TERMINAL_STATUSES, ServiceJobStatus

    drawn = {n["title"] for n in spec["node"]}
    problems = [
        f"{t!r} is not a ServiceJobStatus" for t in drawn - {s.value for s in ServiceJobStatus}
    ]
    problems += [
        f"status {s.value} is missing"
        for s in (*LIFECYCLE, *TERMINAL_STATUSES)
        if s.value not in drawn
    ]
    return problems


CHECKS = {"decision": check_decision_spec, "lifecycle": check_lifecycle_spec}


def build_all(directory: Path = DIAGRAM_DIR) -> dict[Path, str]:
    """Render every spec; raise ``ValueError`` if a spec disagrees with the core or if two
    boxes or labels of its drawing cover each other."""
    out: dict[Path, str] = {}
    for spec_path in sorted(directory.glob("*.toml")):
        spec = load_spec(spec_path)
        problems = CHECKS[spec["checks"]](spec) if "checks" in spec else []
        problems += draw(spec).overlaps()
        if problems:
            raise ValueError(
                f"{spec_path.name} disagrees with the code:\n  " + "\n  ".join(problems)
            )
        out[spec_path.with_suffix(".svg")] = render(spec)
    return out


def write_all(directory: Path = DIAGRAM_DIR) -> list[Path]:
    """Write SVGs whose content changed; return those paths."""
    changed = []
    for path, svg in build_all(directory).items():
        if not path.exists() or path.read_text(encoding="utf-8") != svg:
            path.write_text(svg, encoding="utf-8")
            changed.append(path)
    return changed


def stale(directory: Path = DIAGRAM_DIR) -> list[Path]:
    """SVGs that are missing or differ from what their specs draw now."""
    return [
        path
        for path, svg in build_all(directory).items()
        if not path.exists() or path.read_text(encoding="utf-8") != svg
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if an SVG is out of date")
    args = parser.parse_args(argv)
    if args.check:
        out_of_date = stale()
        for path in out_of_date:
            print(f"out of date: {path} (run python docs/_tooling/diagrams.py)", file=sys.stderr)
        return 1 if out_of_date else 0
    for path in write_all():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
