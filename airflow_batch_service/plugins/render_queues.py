"""The queue page as HTML: capacity meters, shares, and the jobs waiting for capacity.

A waiting job names its Airflow task only when the viewer may see it (``queues.WaitingJob``
says so), and then links to the task instance's page in Airflow's UI. Pure: a
``queues.QueueView`` in, HTML out; the page frame is ``render``'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote, urlencode

from airflow_batch_service.core.task_tag import TaskKey
from airflow_batch_service.core.verdict import format_duration
from airflow_batch_service.plugins.queues import CapacityBar, QueueView, ShareUsage, WaitingJob
from airflow_batch_service.plugins.render import esc, page, pct, utc


def task_label(key: TaskKey) -> str:
    """A task instance as the page names it: ``dag / task[map index] / run``."""
    suffix = f"[{key.map_index}]" if key.map_index >= 0 else ""
    return f"{key.dag_id} / {key.task_id}{suffix} / {key.run_id}"


def _meter(bar: CapacityBar) -> str:
    fraction = bar.fraction
    width = pct(fraction if fraction is not None else 0.0)
    cls = "meter full" if bar.full else "meter"
    return (
        f'<div class="capacity-row" data-unit="{esc(bar.label)}" data-used="{bar.used:g}"'
        f' data-limit="{"" if bar.limit is None else f"{bar.limit:g}"}">'
        f"<span>{esc(bar.label)}</span>"
        f'<div class="{cls}" role="meter" aria-valuemin="0" aria-valuemax="{bar.limit or 0:g}"'
        f' aria-valuenow="{bar.used:g}"><span style="width:{width}"></span></div>'
        f"<span>{esc(bar.text())}</span></div>"
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
            f'<a class="mine" target="_top" href="{esc(ti_url(owner.dag_id, owner.task_id, owner.run_id, owner.map_index))}">'
            f"{esc(task_label(owner))}</a>"
        )
    return (
        f'<span class="muted">tagged {esc(task_label(owner))}, not a task of this deployment</span>'
    )


def _share_html(share: ShareUsage) -> str:
    return (
        f'<div class="share" data-share="{esc(share.name)}" data-kind="{esc(share.kind)}">'
        f"<b>{esc(share.name)}</b> <small>{esc(share.kind)}{' · ' + esc(share.detail) if share.detail else ''}</small>"
        + "".join(_meter(b) for b in share.bars)
        + "</div>"
    )


def _shares_html(view: QueueView) -> str:
    if not view.shares:
        return ""
    active = f" ({view.active_shares} active)" if view.active_shares is not None else ""
    title = (
        "Quota shares"
        if any(s.kind == "quota share" for s in view.shares)
        else f"Fair shares{active}"
    )
    return f"<h3>{esc(title)}</h3>" + "".join(_share_html(share) for share in view.shares)


def _waiting_row(job: WaitingJob) -> str:
    owner = task_label(job.owner) if job.owner is not None else ""
    return (
        f'<tr class="waiting-job" data-job-id="{esc(job.job_id)}" data-position="{job.position}"'
        f' data-owner="{esc(owner)}" data-mine="{str(job.owner_visible).lower()}">'
        f"<td>{job.position}</td><td><code>{esc(job.job_name or job.job_id)}</code></td>"
        f"<td>{esc(format_duration(job.age_ms) if job.age_ms is not None else '?')}</td>"
        f'<td class="optional">{esc(format_duration(job.at_position_ms) if job.at_position_ms is not None else "")}</td>'
        f'<td class="optional">{esc(job.share or "")}</td>'
        f'<td class="optional">{esc(job.capacity or "")}</td>'
        f"<td>{_owner_cell(job)}</td></tr>"
    )


def _waiting_html(view: QueueView) -> str:
    if not view.waiting:
        return '<h3>Waiting for capacity (RUNNABLE): <span class="waiting-count">0</span></h3><p class="muted">No job is waiting.</p>'
    more = (
        f'<p class="muted">{view.waiting_total - len(view.waiting)} more not shown.</p>'
        if view.waiting_total > len(view.waiting)
        else ""
    )
    return (
        f'<h3>Waiting for capacity (RUNNABLE): <span class="waiting-count">{view.waiting_total}</span></h3>'
        '<div class="table-wrap"><table class="waiting"><thead><tr><th>#</th><th>Job</th><th>Age</th>'
        '<th class="optional">At this position</th><th class="optional">Share</th>'
        '<th class="optional">Needs</th><th>Airflow task</th></tr></thead><tbody>'
        + "".join(_waiting_row(job) for job in view.waiting)
        + f"</tbody></table></div>{more}"
    )


def queue_html(view: QueueView) -> str:
    """One queue's card."""
    head = (
        f'<section class="card queue" data-queue="{esc(view.name)}" data-policy="{esc(view.policy)}">'
        f"<h2>{esc(view.name)} <small>{esc(view.policy)} · {esc(', '.join(view.environments) or 'no service environment')}"
        f" · {esc(view.state)} / {esc(view.status)}</small></h2>"
    )
    errors = "".join(f'<p class="error">{esc(e)}</p>' for e in view.errors)
    capacity = (
        '<h3>Capacity in use</h3><div class="capacity">'
        + "".join(_meter(b) for b in view.capacity)
        + "</div>"
    )
    return head + errors + capacity + _shares_html(view) + _waiting_html(view) + "</section>"


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
        f'<option value="{esc(c)}"{" selected" if c == conn_id else ""}>{esc(c)}</option>'
        for c in conn_ids
    )
    keep = (
        f'<input type="hidden" name="theme" value="{esc(theme)}">'
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
    body.extend(f'<p class="error">{esc(e)}</p>' for e in errors)
    if conn_id is None:
        body.append(
            '<p class="muted" id="message">Choose the aws connection whose queues to show.</p>'
        )
    else:
        body.append(
            f'<p class="muted" id="summary">{len(views)} SAGEMAKER_TRAINING queue{"s" if len(views) != 1 else ""}'
            f" through <code>{esc(conn_id)}</code> · as of {esc(utc(generated_ms))}"
            + (f" · refreshes every {refresh}s" if refresh else "")
            + (
                f' · <a href="queues?{esc(urlencode({"conn_id": conn_id, "refresh": 0}))}">stop refreshing</a>'
                if refresh
                else ""
            )
            + "</p>"
        )
        body.extend(queue_html(v) for v in views)
    return page("Batch service-job queues", "".join(body), theme=theme, refresh=refresh)
