"""The "Service jobs" tab as HTML: one card per lane, its bars in SVG, attempts and events.

Bars are SVG rectangles placed in percent of the lane, so they stretch with the tab's width
while the text keeps its size. Pure: a ``timeline.JobLane`` in, HTML out; the page frame is
``render``'s.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from airflow_batch_service.core.verdict import format_duration
from airflow_batch_service.plugins.render import esc, page, pct, utc
from airflow_batch_service.plugins.timeline import JobLane


def lane_svg(lane: JobLane) -> str:
    """The bars of one lane: one rect per segment, one pin per marker (percent coordinates)."""
    parts = [
        f'<svg class="bars" role="img" aria-label="{esc(_lane_aria(lane))}">',
        '<rect class="track" x="0" y="6" width="100%" height="20" rx="3"></rect>',
    ]
    for seg in lane.segments:
        x = lane.share(seg.start_ms)
        w = max(lane.share(seg.end_ms) - x, 0.002)
        cls = f"seg seg-{esc(seg.status)}" + ("" if seg.exact else " inexact")
        parts.append(
            f'<rect class="{cls}" data-status="{esc(seg.status)}" data-ms="{seg.duration_ms}"'
            f' data-exact="{str(seg.exact).lower()}" x="{pct(x)}" y="6" width="{pct(w)}" height="20">'
            f"<title>{esc(seg.label())}\n{esc(utc(seg.start_ms))} to {esc(utc(seg.end_ms))}</title></rect>"
        )
        if w >= 0.14:
            parts.append(
                f'<text x="{pct(x + w / 2)}" y="20" text-anchor="middle">'
                f"{esc(seg.status)} {esc(format_duration(seg.duration_ms))}</text>"
            )
    for marker in lane.markers:
        at = pct(lane.share(marker.at_ms))
        parts.append(
            f'<g class="marker marker-{esc(marker.kind)} pin-{esc(marker.tone)}"'
            f' data-kind="{esc(marker.kind)}" data-tone="{esc(marker.tone)}">'
            f'<line x1="{at}" x2="{at}" y1="2" y2="30"></line>'
            f'<circle cx="{at}" cy="34" r="4.5"></circle>'
            f"<title>{esc(marker.label)}{': ' + esc(marker.detail) if marker.detail else ''}</title></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _lane_aria(lane: JobLane) -> str:
    spent = ", ".join(f"{k} {format_duration(v)}" for k, v in lane.time_in().items())
    return f"{lane.job_name or lane.job_id}: {lane.status}; {spent}"


def _axis(lane: JobLane) -> str:
    ticks = [0, 0.25, 0.5, 0.75, 1.0]
    labels = [format_duration(lane.span_ms * t) if t else "0s" for t in ticks]
    return (
        '<div class="axis" aria-hidden="true">'
        + "".join(f"<span>{esc(x)}</span>" for x in labels)
        + "</div>"
    )


def _legend(lane: JobLane) -> str:
    items = "".join(
        f'<li data-status="{esc(kind)}"><span class="swatch seg-{esc(kind)}"></span>'
        f"{esc(kind)} {esc(format_duration(ms))}</li>"
        for kind, ms in lane.time_in().items()
    )
    return f'<ul class="legend" aria-label="time in each state">{items}</ul>'


def _attempts_table(lane: JobLane) -> str:
    if not lane.attempts:
        return '<p class="muted">No attempt has started yet.</p>'
    rows = []
    for row in lane.attempts:
        rows.append(
            f'<tr class="attempt" data-outcome="{esc(row.outcome)}">'
            f"<td>{esc(row.label)}</td>"
            f'<td><span class="badge outcome-{esc("SUCCEEDED" if row.outcome == "SUCCEEDED" else "FAILED" if row.outcome in ("FAILED", "RETRIED", "PREEMPTED") else "IN_PROGRESS")}">{esc(row.outcome)}</span></td>'
            f'<td class="optional">{esc(row.duration or "")}</td>'
            f'<td class="reason">{esc(row.reason or "")}'
            + (
                f'<div class="rule"><small>{esc(row.rule)}</small></div>'
                if row.rule and row.rule not in (row.decision or "")
                else ""
            )
            + (
                f'<div class="decision"><small>{esc(row.decision)}</small></div>'
                if row.decision
                else ""
            )
            + "</td>"
            f'<td class="optional"><code>{esc(row.training_job_name or "")}</code></td></tr>'
        )
    return (
        '<div class="table-wrap"><table class="attempts"><thead><tr><th>Run</th><th>Outcome</th>'
        '<th class="optional">Ran</th><th>Status reason, rule and decision</th>'
        '<th class="optional">Training job</th></tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table></div>"
    )


def _events(lane: JobLane) -> str:
    if not lane.markers:
        return ""
    items = "".join(
        f'<li data-kind="{esc(m.kind)}"><b>+{esc(format_duration(m.at_ms - lane.start_ms))}</b> '
        f"{esc(m.label)}" + (f": <span>{esc(m.detail)}</span>" if m.detail else "") + "</li>"
        for m in lane.markers
    )
    return f'<h3>Events</h3><ol class="events">{items}</ol>'


def lane_html(lane: JobLane) -> str:
    who = []
    if lane.try_number is not None:
        who.append(f"try {lane.try_number}")
    if lane.map_index >= 0:
        who.append(f"map index {lane.map_index}")
    if lane.role:
        who.append(lane.role)
    facts = [
        f'<span data-fact="status">status <b>{esc(lane.status)}</b></span>',
        f'<span data-fact="attempts">attempts <b>{sum(1 for a in lane.attempts if a.outcome != "PREEMPTED")}</b></span>',
        f'<span data-fact="requeues">capacity requeues <b>{lane.capacity_requeues}</b>'
        + ("" if lane.capacity_requeues_known else " <small>(not recorded for this try)</small>")
        + "</span>",
        f'<span data-fact="preemptions">preemptions <b>{lane.preemptions}</b></span>',
        f'<span data-fact="source"><small>{"times as the wait observed them" if lane.source == "observed" else "times from the job description"}</small></span>',
    ]
    links = "".join(
        f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer">{esc(name)}</a>'
        for name, url in lane.links
    )
    error = f'<p class="error">{esc(lane.error)}</p>' if lane.error else ""
    return (
        f'<section class="card lane" data-job-id="{esc(lane.job_id)}" data-outcome="{esc(lane.outcome)}"'
        f' data-status="{esc(lane.status)}" data-try="{esc(lane.try_number)}" data-map-index="{lane.map_index}">'
        f"<header><h2>{esc(lane.job_name or lane.job_id)}</h2>"
        f'<span class="badge outcome-{esc(lane.outcome)}">{esc(lane.outcome.replace("_", " "))}</span>'
        f"<small>{esc(' · '.join(who))} · <code>{esc(lane.job_id)}</code></small></header>"
        f'<p class="headline">{esc(lane.headline)}</p>{error}'
        f"{lane_svg(lane)}{_axis(lane)}{_legend(lane)}"
        f'<div class="facts">{"".join(facts)}</div>'
        f"{_attempts_table(lane)}{_events(lane)}"
        f'<details class="explanation"><summary>Explanation</summary><pre>{esc(lane.explanation)}</pre></details>'
        + (f'<div class="links">{links}</div>' if links else "")
        + "</section>"
    )


def tab_page(
    *,
    title: str,
    lanes: Sequence[JobLane],
    notes: Iterable[str] = (),
    all_indexes_url: str | None = None,
    theme: str | None = None,
) -> str:
    intro = [f"<h1>{esc(title)}</h1>"]
    tries = sorted({lane.try_number for lane in lanes if lane.try_number is not None})
    summary = f"{len(lanes)} service job{'s' if len(lanes) != 1 else ''}"
    if tries:
        summary += f" over {len(tries)} tr{'ies' if len(tries) != 1 else 'y'}"
    intro.append(f'<p class="muted" id="summary">{esc(summary)}')
    if all_indexes_url:
        intro.append(f' · <a href="{esc(all_indexes_url)}">every map index</a>')
    intro.append("</p>")
    for note in notes:
        intro.append(f'<p class="muted note">{esc(note)}</p>')
    if not lanes:
        intro.append('<p id="empty">No service job was found for this task instance.</p>')
    return page(title, "".join(intro) + "".join(lane_html(lane) for lane in lanes), theme=theme)
