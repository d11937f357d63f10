"""Server-rendered HTML and SVG for the tab and the queue page. Pure: strings in, strings out.

No JavaScript build step and no external assets: one stylesheet inline, and one tiny inline
script that follows Airflow's theme. The pages live in Airflow's iframes (same origin), so the
script reads the parent document's ``dark`` / ``light`` class (next-themes, which Airflow's UI
uses), falls back to the ``theme`` entry of localStorage, then to ``prefers-color-scheme`` (pure
CSS, so the pages also work with scripts off). ``?theme=light|dark`` forces one.

Bars are SVG rectangles placed in percent of the lane, so they stretch with the tab's width
while the text (HTML, or SVG text anchored by percent) keeps its size.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Sequence
from html import escape
from urllib.parse import quote, urlencode

from airflow_batch_service.core.verdict import format_duration
from airflow_batch_service.plugins.queues import CapacityBar, QueueView, WaitingJob
from airflow_batch_service.plugins.timeline import JobLane

_DARK = """
  --bg:#14161a; --fg:#e6e8eb; --muted:#9aa3ae; --border:#2e333b; --card:#1c1f25;
  --link:#7cb4ff; --track:#2a2f37; --ok:#4ade80; --bad:#f87171; --warn:#fbbf24;
  --RUNNABLE:#d79b1e; --WAITING:#8c7f5f; --SCHEDULED:#a78bfa; --STARTING:#22b8cf;
  --RUNNING:#22a45d; --SUBMITTED:#6b7280; --PENDING:#6b7280; --marker:#f3f4f6;
  color-scheme: dark;
"""

CSS = (
    """
:root {
  --bg:#ffffff; --fg:#1f2937; --muted:#5b6573; --border:#d8dde4; --card:#f6f8fa;
  --link:#0b5cc2; --track:#e7eaee; --ok:#15803d; --bad:#c62828; --warn:#a15c07;
  --RUNNABLE:#e0a526; --WAITING:#c2b280; --SCHEDULED:#8b5cf6; --STARTING:#0ea5b7;
  --RUNNING:#16a34a; --SUBMITTED:#9ca3af; --PENDING:#9ca3af; --marker:#111827;
  color-scheme: light;
}
@media (prefers-color-scheme: dark) { :root[data-theme=auto] {"""
    + _DARK
    + """} }
:root[data-theme=dark] {"""
    + _DARK
    + """}
* { box-sizing: border-box; }
body { margin: 0; padding: 12px 14px 24px; background: var(--bg); color: var(--fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
a { color: var(--link); }
h1 { font-size: 18px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 0 0 6px; }
h3 { font-size: 14px; margin: 12px 0 6px; }
small, .muted { color: var(--muted); }
code, pre { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { white-space: pre-wrap; word-break: break-word; margin: 6px 0; }
.card { background: var(--card); border: 1px solid var(--border); border-radius: 8px;
  padding: 10px 12px; margin: 10px 0; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px;
  font-weight: 600; border: 1px solid currentColor; white-space: nowrap; }
.outcome-SUCCEEDED { color: var(--ok); } .outcome-FAILED { color: var(--bad); }
.outcome-IN_PROGRESS, .outcome-UNKNOWN { color: var(--warn); }
.lane header { display: flex; flex-wrap: wrap; gap: 6px 10px; align-items: baseline; }
.lane header h2 { margin: 0; word-break: break-all; }
.headline { margin: 4px 0 8px; }
svg.bars { display: block; width: 100%; height: 40px; overflow: visible; }
svg.bars .track { fill: var(--track); }
svg.bars text { font-size: 11px; fill: #fff; pointer-events: none; }
.seg-RUNNABLE { fill: var(--RUNNABLE); } .seg-WAITING { fill: var(--WAITING); }
.seg-SCHEDULED { fill: var(--SCHEDULED); } .seg-STARTING { fill: var(--STARTING); }
.seg-RUNNING { fill: var(--RUNNING); } .seg-SUBMITTED, .seg-PENDING { fill: var(--SUBMITTED); }
rect.inexact { fill-opacity: .7; }
.marker line { stroke: var(--marker); stroke-width: 2; }
.marker circle { fill: var(--muted); stroke: var(--marker); }
.marker.pin-ok circle { fill: var(--ok); } .marker.pin-bad circle { fill: var(--bad); }
.marker.pin-capacity circle { fill: var(--RUNNABLE); }
.axis { display: flex; justify-content: space-between; font-size: 11px; color: var(--muted);
  margin-top: 2px; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 14px; padding: 0; margin: 8px 0; list-style: none;
  font-size: 12px; }
.legend .swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px;
  margin-right: 4px; vertical-align: -1px; }
.swatch.seg-RUNNABLE { background: var(--RUNNABLE); } .swatch.seg-WAITING { background: var(--WAITING); }
.swatch.seg-SCHEDULED { background: var(--SCHEDULED); } .swatch.seg-STARTING { background: var(--STARTING); }
.swatch.seg-RUNNING { background: var(--RUNNING); }
.swatch.seg-SUBMITTED, .swatch.seg-PENDING { background: var(--SUBMITTED); }
.facts { display: flex; flex-wrap: wrap; gap: 4px 16px; margin: 6px 0; font-size: 13px; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; vertical-align: top; padding: 4px 8px 4px 0; border-bottom: 1px solid var(--border); }
th { color: var(--muted); font-weight: 600; }
td.reason { word-break: break-word; min-width: 12em; }
td code { word-break: break-all; }
ol.events { margin: 6px 0; padding-left: 20px; font-size: 13px; }
ol.events li { margin: 2px 0; }
.links { display: flex; flex-wrap: wrap; gap: 4px 14px; margin: 8px 0 0; font-size: 13px; }
.meter { position: relative; height: 14px; background: var(--track); border-radius: 7px;
  overflow: hidden; min-width: 120px; }
.meter > span { position: absolute; inset: 0 auto 0 0; background: var(--RUNNING); }
.meter.full > span { background: var(--RUNNABLE); }
.capacity-row { display: grid; grid-template-columns: minmax(8em, 14em) minmax(120px, 1fr) auto;
  gap: 4px 12px; align-items: center; margin: 4px 0; font-size: 13px; }
form.pick { display: flex; flex-wrap: wrap; gap: 6px 10px; align-items: center; margin: 8px 0; }
form.pick select, form.pick input, form.pick button { font: inherit; padding: 3px 6px;
  background: var(--bg); color: var(--fg); border: 1px solid var(--border); border-radius: 4px; }
.error { color: var(--bad); }
.mine { font-weight: 600; }
@media (max-width: 560px) {
  .capacity-row { grid-template-columns: 1fr; }
  th.optional, td.optional { display: none; }
}
"""
)

THEME_SCRIPT = """
(function () {
  var root = document.documentElement;
  if (root.getAttribute("data-theme-forced")) return;
  function pick() {
    var t = null;
    try {
      var p = window.parent && window.parent !== window ? window.parent.document.documentElement : null;
      if (p && p.classList.contains("dark")) t = "dark";
      else if (p && p.classList.contains("light")) t = "light";
    } catch (e) {}
    if (!t) { try { var s = localStorage.getItem("theme"); if (s === "dark" || s === "light") t = s; } catch (e) {} }
    root.setAttribute("data-theme", t || "auto");
  }
  pick();
  try {
    new MutationObserver(pick).observe(window.parent.document.documentElement,
      {attributes: true, attributeFilter: ["class"]});
  } catch (e) {}
})();
"""


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def utc(ms: int | None) -> str:
    if ms is None:
        return "?"
    return _dt.datetime.fromtimestamp(ms / 1000, tz=_dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def page(title: str, body: str, *, theme: str | None = None, refresh: int | None = None) -> str:
    forced = theme if theme in ("light", "dark") else None
    attrs = f' data-theme="{forced}" data-theme-forced="1"' if forced else ' data-theme="auto"'
    meta_refresh = f'<meta http-equiv="refresh" content="{int(refresh)}">' if refresh else ""
    return (
        f'<!doctype html>\n<html lang="en"{attrs}><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{meta_refresh}<title>{_e(title)}</title><style>{CSS}</style>"
        f"<script>{THEME_SCRIPT}</script></head><body>{body}</body></html>"
    )


def message_page(title: str, text: str, *, theme: str | None = None) -> str:
    return page(
        title, f'<h1>{_e(title)}</h1><p class="muted" id="message">{_e(text)}</p>', theme=theme
    )


# ----------------------------------------------------------------------------- the tab


def _pct(value: float) -> str:
    return f"{value * 100:.3f}%"


def lane_svg(lane: JobLane) -> str:
    """The bars of one lane: one rect per segment, one pin per marker (percent coordinates)."""
    parts = [
        f'<svg class="bars" role="img" aria-label="{_e(_lane_aria(lane))}">',
        '<rect class="track" x="0" y="6" width="100%" height="20" rx="3"></rect>',
    ]
    for seg in lane.segments:
        x = lane.share(seg.start_ms)
        w = max(lane.share(seg.end_ms) - x, 0.002)
        cls = f"seg seg-{_e(seg.status)}" + ("" if seg.exact else " inexact")
        parts.append(
            f'<rect class="{cls}" data-status="{_e(seg.status)}" data-ms="{seg.duration_ms}"'
            f' data-exact="{str(seg.exact).lower()}" x="{_pct(x)}" y="6" width="{_pct(w)}" height="20">'
            f"<title>{_e(seg.label())}\n{_e(utc(seg.start_ms))} to {_e(utc(seg.end_ms))}</title></rect>"
        )
        if w >= 0.14:
            parts.append(
                f'<text x="{_pct(x + w / 2)}" y="20" text-anchor="middle">'
                f"{_e(seg.status)} {_e(format_duration(seg.duration_ms))}</text>"
            )
    for marker in lane.markers:
        at = _pct(lane.share(marker.at_ms))
        parts.append(
            f'<g class="marker marker-{_e(marker.kind)} pin-{_e(marker.tone)}"'
            f' data-kind="{_e(marker.kind)}" data-tone="{_e(marker.tone)}">'
            f'<line x1="{at}" x2="{at}" y1="2" y2="30"></line>'
            f'<circle cx="{at}" cy="34" r="4.5"></circle>'
            f"<title>{_e(marker.label)}{': ' + _e(marker.detail) if marker.detail else ''}</title></g>"
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
        + "".join(f"<span>{_e(x)}</span>" for x in labels)
        + "</div>"
    )


def _legend(lane: JobLane) -> str:
    items = "".join(
        f'<li data-status="{_e(kind)}"><span class="swatch seg-{_e(kind)}"></span>'
        f"{_e(kind)} {_e(format_duration(ms))}</li>"
        for kind, ms in lane.time_in().items()
    )
    return f'<ul class="legend" aria-label="time in each state">{items}</ul>'


def _attempts_table(lane: JobLane) -> str:
    if not lane.attempts:
        return '<p class="muted">No attempt has started yet.</p>'
    rows = []
    for row in lane.attempts:
        rows.append(
            f'<tr class="attempt" data-outcome="{_e(row.outcome)}">'
            f"<td>{_e(row.label)}</td>"
            f'<td><span class="badge outcome-{_e("SUCCEEDED" if row.outcome == "SUCCEEDED" else "FAILED" if row.outcome in ("FAILED", "RETRIED", "PREEMPTED") else "IN_PROGRESS")}">{_e(row.outcome)}</span></td>'
            f'<td class="optional">{_e(row.duration or "")}</td>'
            f'<td class="reason">{_e(row.reason or "")}'
            + (
                f'<div class="rule"><small>{_e(row.rule)}</small></div>'
                if row.rule and row.rule not in (row.decision or "")
                else ""
            )
            + (
                f'<div class="decision"><small>{_e(row.decision)}</small></div>'
                if row.decision
                else ""
            )
            + "</td>"
            f'<td class="optional"><code>{_e(row.training_job_name or "")}</code></td></tr>'
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
        f'<li data-kind="{_e(m.kind)}"><b>+{_e(format_duration(m.at_ms - lane.start_ms))}</b> '
        f"{_e(m.label)}" + (f": <span>{_e(m.detail)}</span>" if m.detail else "") + "</li>"
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
        f'<span data-fact="status">status <b>{_e(lane.status)}</b></span>',
        f'<span data-fact="attempts">attempts <b>{sum(1 for a in lane.attempts if a.outcome != "PREEMPTED")}</b></span>',
        f'<span data-fact="requeues">capacity requeues <b>{lane.capacity_requeues}</b>'
        + ("" if lane.capacity_requeues_known else " <small>(not recorded for this try)</small>")
        + "</span>",
        f'<span data-fact="preemptions">preemptions <b>{lane.preemptions}</b></span>',
        f'<span data-fact="source"><small>{"times as the wait observed them" if lane.source == "observed" else "times from the job description"}</small></span>',
    ]
    links = "".join(
        f'<a href="{_e(url)}" target="_blank" rel="noopener noreferrer">{_e(name)}</a>'
        for name, url in lane.links
    )
    error = f'<p class="error">{_e(lane.error)}</p>' if lane.error else ""
    return (
        f'<section class="card lane" data-job-id="{_e(lane.job_id)}" data-outcome="{_e(lane.outcome)}"'
        f' data-status="{_e(lane.status)}" data-try="{_e(lane.try_number)}" data-map-index="{lane.map_index}">'
        f"<header><h2>{_e(lane.job_name or lane.job_id)}</h2>"
        f'<span class="badge outcome-{_e(lane.outcome)}">{_e(lane.outcome.replace("_", " "))}</span>'
        f"<small>{_e(' · '.join(who))} · <code>{_e(lane.job_id)}</code></small></header>"
        f'<p class="headline">{_e(lane.headline)}</p>{error}'
        f"{lane_svg(lane)}{_axis(lane)}{_legend(lane)}"
        f'<div class="facts">{"".join(facts)}</div>'
        f"{_attempts_table(lane)}{_events(lane)}"
        f'<details class="explanation"><summary>Explanation</summary><pre>{_e(lane.explanation)}</pre></details>'
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
    intro = [f"<h1>{_e(title)}</h1>"]
    tries = sorted({lane.try_number for lane in lanes if lane.try_number is not None})
    summary = f"{len(lanes)} service job{'s' if len(lanes) != 1 else ''}"
    if tries:
        summary += f" over {len(tries)} tr{'ies' if len(tries) != 1 else 'y'}"
    intro.append(f'<p class="muted" id="summary">{_e(summary)}')
    if all_indexes_url:
        intro.append(f' · <a href="{_e(all_indexes_url)}">every map index</a>')
    intro.append("</p>")
    for note in notes:
        intro.append(f'<p class="muted note">{_e(note)}</p>')
    if not lanes:
        intro.append('<p id="empty">No service job was found for this task instance.</p>')
    return page(title, "".join(intro) + "".join(lane_html(lane) for lane in lanes), theme=theme)


# ----------------------------------------------------------------------------- queues


def _meter(bar: CapacityBar) -> str:
    fraction = bar.fraction
    width = _pct(fraction if fraction is not None else 0.0)
    cls = "meter full" if bar.full else "meter"
    return (
        f'<div class="capacity-row" data-unit="{_e(bar.label)}" data-used="{bar.used:g}"'
        f' data-limit="{"" if bar.limit is None else f"{bar.limit:g}"}">'
        f"<span>{_e(bar.label)}</span>"
        f'<div class="{cls}" role="meter" aria-valuemin="0" aria-valuemax="{bar.limit or 0:g}"'
        f' aria-valuenow="{bar.used:g}"><span style="width:{width}"></span></div>'
        f"<span>{_e(bar.text())}</span></div>"
    )


def ti_url(ref_dag: str, ref_task: str, ref_run: str, map_index: int) -> str:
    """The Airflow UI page of a task instance, relative to this app's pages."""
    url = f"../dags/{quote(ref_dag, safe='')}/runs/{quote(ref_run, safe='')}/tasks/{quote(ref_task, safe='')}"
    if map_index >= 0:
        url += f"/mapped/{map_index}"
    return url


def _owner_cell(job: WaitingJob) -> str:
    owner = job.owner
    if owner is None:
        return (
            '<span class="muted">-</span>'
            if job.described
            else '<span class="muted">not looked up</span>'
        )
    if job.owner_visible:
        return (
            f'<a class="mine" target="_top" href="{_e(ti_url(owner.dag_id, owner.task_id, owner.run_id, owner.map_index))}">'
            f"{_e(owner)}</a>"
        )
    return f'<span class="muted">tagged {_e(owner)}, not a task of this deployment</span>'


def queue_html(view: QueueView) -> str:
    head = (
        f'<section class="card queue" data-queue="{_e(view.name)}" data-policy="{_e(view.policy)}">'
        f"<h2>{_e(view.name)} <small>{_e(view.policy)} · {_e(', '.join(view.environments) or 'no service environment')}"
        f" · {_e(view.state)} / {_e(view.status)}</small></h2>"
    )
    errors = "".join(f'<p class="error">{_e(e)}</p>' for e in view.errors)
    capacity = (
        '<h3>Capacity in use</h3><div class="capacity">'
        + "".join(_meter(b) for b in view.capacity)
        + "</div>"
    )
    shares = ""
    if view.shares:
        rows = []
        for share in view.shares:
            rows.append(
                f'<div class="share" data-share="{_e(share.name)}" data-kind="{_e(share.kind)}">'
                f"<b>{_e(share.name)}</b> <small>{_e(share.kind)}{' · ' + _e(share.detail) if share.detail else ''}</small>"
                + "".join(_meter(b) for b in share.bars)
                + "</div>"
            )
        active = f" ({view.active_shares} active)" if view.active_shares is not None else ""
        title = (
            "Quota shares"
            if any(s.kind == "quota share" for s in view.shares)
            else f"Fair shares{active}"
        )
        shares = f"<h3>{_e(title)}</h3>" + "".join(rows)
    if view.waiting:
        rows = []
        for job in view.waiting:
            rows.append(
                f'<tr class="waiting-job" data-job-id="{_e(job.job_id)}" data-position="{job.position}"'
                f' data-owner="{_e(job.owner or "")}" data-mine="{str(job.owner_visible).lower()}">'
                f"<td>{job.position}</td><td><code>{_e(job.job_name or job.job_id)}</code></td>"
                f"<td>{_e(format_duration(job.age_ms) if job.age_ms is not None else '?')}</td>"
                f'<td class="optional">{_e(format_duration(job.at_position_ms) if job.at_position_ms is not None else "")}</td>'
                f'<td class="optional">{_e(job.share or "")}</td>'
                f'<td class="optional">{_e(job.capacity or "")}</td>'
                f"<td>{_owner_cell(job)}</td></tr>"
            )
        more = (
            f'<p class="muted">{view.waiting_total - len(view.waiting)} more not shown.</p>'
            if view.waiting_total > len(view.waiting)
            else ""
        )
        waiting = (
            f'<h3>Waiting for capacity (RUNNABLE): <span class="waiting-count">{view.waiting_total}</span></h3>'
            '<div class="table-wrap"><table class="waiting"><thead><tr><th>#</th><th>Job</th><th>Age</th>'
            '<th class="optional">At this position</th><th class="optional">Share</th>'
            '<th class="optional">Needs</th><th>Airflow task</th></tr></thead><tbody>'
            + "".join(rows)
            + f"</tbody></table></div>{more}"
        )
    else:
        waiting = '<h3>Waiting for capacity (RUNNABLE): <span class="waiting-count">0</span></h3><p class="muted">No job is waiting.</p>'
    return head + errors + capacity + shares + waiting + "</section>"


def queues_page(
    *,
    conn_ids: Sequence[str],
    conn_id: str | None,
    views: Sequence[QueueView],
    errors: Sequence[str] = (),
    generated_ms: int,
    refresh: int | None = None,
    theme: str | None = None,
) -> str:
    options = "".join(
        f'<option value="{_e(c)}"{" selected" if c == conn_id else ""}>{_e(c)}</option>'
        for c in conn_ids
    )
    keep = (
        f'<input type="hidden" name="theme" value="{_e(theme)}">'
        if theme in ("light", "dark")
        else ""
    )
    form = (
        '<form class="pick" method="get" action="queues">'
        '<label for="conn_id">AWS connection</label>'
        f'<select id="conn_id" name="conn_id">{options}</select>{keep}'
        '<button type="submit" id="show">Show queues</button></form>'
    )
    body = ["<h1>AWS Batch service-job queues</h1>", form]
    body.extend(f'<p class="error">{_e(e)}</p>' for e in errors)
    if conn_id is None:
        body.append(
            '<p class="muted" id="message">Choose the aws connection whose queues to show.</p>'
        )
    else:
        body.append(
            f'<p class="muted" id="summary">{len(views)} SAGEMAKER_TRAINING queue{"s" if len(views) != 1 else ""}'
            f" through <code>{_e(conn_id)}</code> · as of {_e(utc(generated_ms))}"
            + (f" · refreshes every {refresh}s" if refresh else "")
            + (
                f' · <a href="queues?{_e(urlencode({"conn_id": conn_id, "refresh": 0}))}">stop refreshing</a>'
                if refresh
                else ""
            )
            + "</p>"
        )
        body.extend(queue_html(v) for v in views)
    return page("Batch service-job queues", "".join(body), theme=theme, refresh=refresh)
