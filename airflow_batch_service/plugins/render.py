"""The frame of every page the plugin serves: the stylesheet, the theme, the HTML around a body.

Server-rendered HTML and SVG (the tab's lanes: ``render_tab``; the queue page:
``render_queues``). Pure: strings in, strings out.

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
from html import escape

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


def esc(value: object) -> str:
    """``value`` as HTML text or attribute value (None as nothing)."""
    return escape("" if value is None else str(value), quote=True)


def pct(value: float) -> str:
    """A fraction (0..1) as a CSS / SVG percentage."""
    return f"{value * 100:.3f}%"


def utc(ms: int | None) -> str:
    """Epoch milliseconds as a UTC time a person reads."""
    if ms is None:
        return "?"
    return _dt.datetime.fromtimestamp(ms / 1000, tz=_dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def page(title: str, body: str, *, theme: str | None = None, refresh: int | None = None) -> str:
    """A whole page: ``body`` with the stylesheet, the theme script, and an auto-refresh."""
    forced = theme if theme in ("light", "dark") else None
    attrs = f' data-theme="{forced}" data-theme-forced="1"' if forced else ' data-theme="auto"'
    meta_refresh = f'<meta http-equiv="refresh" content="{int(refresh)}">' if refresh else ""
    return (
        f'<!doctype html>\n<html lang="en"{attrs}><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{meta_refresh}<title>{esc(title)}</title><style>{CSS}</style>"
        f"<script>{THEME_SCRIPT}</script></head><body>{body}</body></html>"
    )


def message_page(title: str, text: str, *, theme: str | None = None) -> str:
    return page(
        title, f'<h1>{esc(title)}</h1><p class="muted" id="message">{esc(text)}</p>', theme=theme
    )
