"""The demo conference and its join links."""

from __future__ import annotations

from .conference import ConferencePlan, DelegationPlan
from .config import ServerConfig
from .tokens import issue_token

DEMO_CONFERENCE = ConferencePlan(
    id="demo",
    title="Conversatorio Regional Migratorio",
    delegations=(
        DelegationPlan("gt", "Guatemala", "GT"),
        DelegationPlan("sv", "El Salvador", "SV"),
        DelegationPlan("cr", "Costa Rica", "CR"),
    ),
)


def demo_links(config: ServerConfig, spec: ConferencePlan = DEMO_CONFERENCE) -> dict[str, str]:
    """One join link per role: the chair, each delegation's head, a technician."""
    seats: list[tuple[str, str, str, str | None]] = [
        ("chair", "chair", "Presidencia (Honduras)", None)
    ]
    seats += [
        (f"head:{d.id}", "head", f"Jefatura de delegación — {d.name}", d.id)
        for d in spec.delegations
    ]
    seats.append(("technician", "technician", "Técnico de sala", None))
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
