"""The minutes as a printable page: the document a secretariat circulates.

A header (the meeting, its date, who chaired, the attendance by delegation),
then the order of business item by item, the interventions, the speaking time
per delegation and the record of proceedings, in the minutes' language. Every
piece of free text (names, titles, reasons, proposals) is escaped; the page
has no script and no inline style (its stylesheet is /web/minutes.css), so it
passes the server's Content-Security-Policy. The PDF is the browser's print.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import TYPE_CHECKING

from .minutes_words import WORDS, clock_time, duration

if TYPE_CHECKING:
    from .business_minutes import DecisionRecord, RollCallRecord
    from .minutes import Minutes

__all__ = ["to_html"]

STYLESHEET = "/web/minutes.css"


def _date(at: float | None) -> str:
    return "-" if at is None else datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d")


def _heading(markdown: str) -> str:
    return escape(markdown.lstrip("#").strip())


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = ["<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows]
    return ["<table>", f"<thead><tr>{head}</tr></thead>", "<tbody>", *body, "</tbody>", "</table>"]


def _cells(markdown_header: str) -> list[str]:
    return [c.strip() for c in markdown_header.strip("|").split("|")]


def to_html(minutes: Minutes) -> str:
    from .minutes import _ending, speaking_for  # the same words as the Markdown minutes

    w = WORDS[minutes.language]
    title = minutes.title or w["md.untitled"]
    lines = [
        "<!doctype html>",
        f'<html lang="{escape(minutes.language)}">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{escape(w['md.title'].format(title=title).lstrip('# '))}</title>",
        f'<link rel="stylesheet" href="{STYLESHEET}">',
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{_heading(w['md.title'].format(title=title))}</h1>",
        "<dl>",
        f"<dt>{escape(w['html.date'])}</dt><dd>{escape(_date(minutes.opened_at))}</dd>",
        f"<dt>{escape(w['html.session'])}</dt><dd>{escape(_session(minutes, w))}</dd>",
        f"<dt>{escape(w['html.chair'])}</dt><dd>{escape(', '.join(minutes.chairs) or '-')}</dd>",
        "</dl>",
    ]
    if minutes.attendance:
        lines += [f"<h2>{escape(w['html.attendance'])}</h2>", '<ul class="attendance">']
        lines += [
            f"<li><strong>{escape(a.delegation)}</strong> ({escape(a.country_code)})"
            f"{escape(', ' + w['observer_delegation'] if a.observer else '')}: "
            f"{escape(', '.join(a.members) or '-')}</li>"
            for a in minutes.attendance
        ]
        lines.append("</ul>")
    lines.append("</header>")
    lines += _business(minutes, w)
    lines += [f"<h2>{_heading(w['md.interventions'])}</h2>"]
    if minutes.interventions:
        rows = [
            [
                str(i.number),
                speaking_for(i, w),
                i.speaker or "",
                w["priority." + i.priority.value],
                clock_time(i.start),
                clock_time(i.end),
                duration(i.duration),
                _ending(i, w),
            ]
            for i in minutes.interventions
        ]
        lines += _table(_cells(w["md.interventions_header"]), rows)
    else:
        lines.append(f"<p>{escape(w['md.nobody'])}</p>")
    lines += [f"<h2>{_heading(w['md.totals'])}</h2>"]
    rows = [
        [f"{t.delegation} ({t.country_code})", str(t.interventions), duration(t.speaking_time)]
        for t in minutes.totals
    ]
    lines += _table(_cells(w["md.totals_header"]), rows)
    lines += [f"<h2>{_heading(w['md.record'])}</h2>", '<ol class="record">']
    lines += [f"<li><time>{clock_time(e.at)}</time> {escape(e.text)}</li>" for e in minutes.record]
    lines += ["</ol>", "</body>", "</html>"]
    return "\n".join(lines) + "\n"


def _session(minutes: Minutes, w: dict[str, str]) -> str:
    opened = clock_time(minutes.opened_at) or "-"
    if minutes.closed_at is None:
        return w["html.still_open"].format(opened=opened)
    return f"{opened} - {clock_time(minutes.closed_at)}"


def _business(minutes: Minutes, w: dict[str, str]) -> list[str]:
    if not (minutes.items or minutes.roll_calls or minutes.decisions):
        return []
    roll_calls = {r.roll_call_id: r for r in minutes.roll_calls}
    decisions = {d.decision_id: d for d in minutes.decisions}
    lines = [f"<h2>{_heading(w['md.agenda'])}</h2>"]
    for item in minutes.items:
        kind = "item sub-item" if item.parent is not None else "item"
        lines.append(f'<section class="{kind}"><h3>{item.number}. {escape(item.title)}</h3>')
        if item.opened_at is None:
            lines.append(f"<p>{escape(w['md.item_upcoming'])}</p>")
        else:
            times = w["md.item_times"].format(
                planned=duration(item.planned_duration) or "-",
                opened=clock_time(item.opened_at),
                closed=clock_time(item.closed_at) or "-",
                duration=duration(item.duration) or "-",
            )
            lines.append(f"<p>{escape(times)}</p>")
        if item.inscribed:
            names = w["md.item_inscribed"].format(names=", ".join(item.inscribed))
            lines.append(f"<p>{escape(names)}</p>")
        if item.times:
            rows = [
                [
                    t.delegation,
                    str(t.turns),
                    duration(t.spoken),
                    duration(t.allowance) or "-",
                    duration(t.extra),
                    duration(t.over),
                ]
                for t in item.times
            ]
            lines += _table(_cells(w["md.item_times_header"]), rows)
        lines += _outcomes(
            [roll_calls.pop(r) for r in item.roll_calls if r in roll_calls],
            [decisions.pop(d) for d in item.decisions if d in decisions],
            w,
        )
        lines.append("</section>")
    if roll_calls or decisions:
        lines.append(f'<section class="item"><h3>{_heading(w["md.outside_items"])}</h3>')
        lines += _outcomes(list(roll_calls.values()), list(decisions.values()), w)
        lines.append("</section>")
    return lines


def _outcomes(
    roll_calls: list[RollCallRecord], decisions: list[DecisionRecord], w: dict[str, str]
) -> list[str]:
    """Roll calls (present, absent, quorum) and decisions (result, ballots, objections)."""
    lines: list[str] = []
    for call in roll_calls:
        if call.quorum_met is None:
            lines.append(f"<p>{escape(w['md.roll_call_open'].format(id=call.roll_call_id))}</p>")
            continue
        text = w["md.roll_call"].format(
            id=call.roll_call_id,
            present=", ".join(call.present) or w["md.none"],
            absent=", ".join(call.absent) or w["md.none"],
            quorum=w["md.quorum_met" if call.quorum_met else "md.quorum_not_met"],
        )
        lines.append(f"<p>{escape(text)}</p>")
    for decision in decisions:
        result = w["md.pending" if decision.adopted is None else "md.adopted"]
        if decision.adopted is False:
            result = w["md.not_adopted"]
        key = "md.decision_vote" if decision.kind == "vote" else "md.decision_consensus"
        text = w[key].format(
            text=decision.text,
            result=result,
            yes=decision.yes,
            no=decision.no,
            abstain=decision.abstain,
        )
        lines.append(f'<p class="decision">{escape(text)}</p>')
        if decision.ballots:
            ballots = ", ".join(
                f"{b.delegation}: {w['ballot.' + b.ballot]}" for b in decision.ballots
            )
            lines.append(f"<p>{escape(w['md.ballots'].format(ballots=ballots))}</p>")
        if decision.objections:
            names = w["md.objections"].format(names=", ".join(decision.objections))
            lines.append(f"<p>{escape(names)}</p>")
    return lines
