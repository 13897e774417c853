"""The demo conference and its join links."""

from __future__ import annotations

from conference.plans import ConferencePlan, DelegationPlan
from rooms import (
    AddAgendaItem,
    AssignInterpreter,
    Command,
    InscribeSpeaker,
    ItemTitle,
    OpenChannel,
    SetLanguages,
)

from .config import ServerConfig
from .tokens import issue_token

# (id, Spanish title, English title, planned minutes, budget minutes, inscribed in order,
# open to observer delegations)
_AGENDA = (
    (
        "migracion",
        "Gobernanza migratoria",
        "Migration governance",
        40,
        5,
        ("gt", "sv", "cr"),
        False,
    ),
    (
        "recuperacion",
        "Recuperación socioeconómica",
        "Socio-economic recovery",
        40,
        5,
        ("cr", "gt", "sv"),
        False,
    ),
    (
        "observadores",
        "Declaraciones de observadores",
        "Observer statements",
        15,
        3,
        ("oea",),
        True,
    ),
    (
        "declaracion",
        "Clausura y adopción de la declaración conjunta",
        "Closing and adoption of the joint declaration",
        20,
        None,
        ("sv",),
        False,
    ),
)


def _agenda() -> list[Command]:
    """Four items, each with its round of interventions announced in advance; the
    third is the observers' statements."""
    commands: list[Command] = []
    for item_id, spanish, english, planned, budget, speakers, observers in _AGENDA:
        titles = (ItemTitle("es", spanish), ItemTitle("en", english))
        seconds = None if budget is None else budget * 60.0
        commands.append(AddAgendaItem(item_id, titles, planned * 60.0, seconds, observers))
        commands += [InscribeSpeaker(item_id, delegation) for delegation in speakers]
    return commands


DEMO_CONFERENCE = ConferencePlan(
    id="demo",
    title="Conversatorio Regional Migratorio",
    delegations=(
        DelegationPlan("gt", "Guatemala", "GT"),
        DelegationPlan("sv", "El Salvador", "SV"),
        DelegationPlan("cr", "Costa Rica", "CR"),
        # The OAS follows as an observer: it speaks on the observers' item only.
        DelegationPlan("oea", "OEA", "OEA", observer=True),
    ),
    # Spanish on the floor, an English booth with two interpreters.
    setup=(
        SetLanguages(("es", "en")),
        OpenChannel("en"),
        AssignInterpreter("demo-interpreter-en-1", "en", ("en", "es")),
        AssignInterpreter("demo-interpreter-en-2", "en", ("en", "es")),
        *_agenda(),
    ),
)


def demo_links(config: ServerConfig, spec: ConferencePlan = DEMO_CONFERENCE) -> dict[str, str]:
    """One join link per seat: the chair, each delegation's head, a technician,
    and the interpreters seated by the plan."""
    seats: list[tuple[str, str, str, str | None]] = [
        ("chair", "chair", "Presidencia (Honduras)", None)
    ]
    seats += [
        (f"head:{d.id}", "head", f"Jefatura de delegación — {d.name}", d.id)
        for d in spec.delegations
    ]
    seats.append(("technician", "technician", "Técnico de sala", None))
    interpreters = [c for c in spec.setup if isinstance(c, AssignInterpreter)]
    for number, seat in enumerate(interpreters, start=1):
        label = seat.participant_id.removeprefix("demo-")
        name = f"Intérprete {seat.booth.upper()} {number}"
        seats.append((label, "interpreter", name, None))
    links = {}
    for label, role, name, delegation in seats:
        token = issue_token(
            config.secret,
            conference=spec.id,
            role=role,
            name=name,
            delegation=delegation,
            participant=f"demo-{label.replace(':', '-')}",
        )
        links[label] = f"{config.base_url}/c/{spec.id}?t={token}"
    return links
