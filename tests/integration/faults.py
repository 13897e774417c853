"""Network faults with nftables in the test's own network namespace (no tests here).

The kernel has no netem; nftables drops datagrams in the input hook, so the
sender believes they left, as on a real network. Every rule lives in one
table that `Blackhole` deletes when done.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable

import pytest
from aiortc import RTCPeerConnection

NFT = shutil.which("nft")
TABLE = "palabra_fault"


def udp_ports(*connections: RTCPeerConnection) -> set[int]:
    """The local UDP ports of peer connections' ICE candidates."""
    ports: set[int] = set()
    for pc in connections:
        for transceiver in pc.getTransceivers():
            dtls = transceiver.sender.transport or transceiver.receiver.transport
            if dtls is not None:
                ports |= {c.port for c in dtls.transport.iceGatherer.getLocalCandidates()}
    return ports


class Blackhole:
    """Drops every UDP datagram to or from some ports while on."""

    def __init__(self, ports: Iterable[int]) -> None:
        if NFT is None:
            pytest.skip("nft is not installed (apt-get install nftables)")
        self.ports = sorted(ports)
        assert self.ports, "no ports to blackhole"

    def on(self) -> None:
        ports = ", ".join(map(str, self.ports))
        rules = f"""
table inet {TABLE} {{
  chain inp {{
    type filter hook input priority 0; policy accept;
    udp dport {{ {ports} }} drop
    udp sport {{ {ports} }} drop
  }}
}}
"""
        assert NFT is not None
        result = subprocess.run([NFT, "-f", "-"], input=rules.encode(), capture_output=True)
        if result.returncode != 0:
            pytest.skip(f"nft refused the rules: {result.stderr.decode().strip()}")

    def off(self) -> None:
        assert NFT is not None
        subprocess.run([NFT, "delete", "table", "inet", TABLE], capture_output=True)
