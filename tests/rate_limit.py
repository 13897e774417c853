"""A rate limit on some of this namespace's UDP, with nftables (this kernel has no netem).

The limit drops in the input hook what goes over it, as a policer on a
narrow link does: the sender believes the datagram left.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

NFT = shutil.which("nft") or "/usr/sbin/nft"


@contextmanager
def nft_table(table: str) -> Iterator[None]:
    """The test's own table, deleted at the end; skips where nft is missing."""
    if not Path(NFT).exists():
        pytest.skip("nft is not installed (apt-get install nftables)")
    try:
        yield
    finally:
        subprocess.run([NFT, "delete", "table", "inet", table], capture_output=True)


def limit_udp(table: str, match: str, kbytes: int) -> None:
    """Drop the UDP datagrams that ``match`` (an nftables match, e.g.
    ``udp dport 40000``) beyond ``kbytes`` kilobytes a second."""
    rules = f"""
table inet {table} {{
  chain inp {{
    type filter hook input priority 0; policy accept;
    {match} limit rate over {kbytes} kbytes/second drop
  }}
}}
"""
    result = subprocess.run([NFT, "-f", "-"], input=rules.encode(), capture_output=True)
    if result.returncode != 0:
        pytest.fail(f"nft refused the rules: {result.stderr.decode().strip()}")


def lose_udp(table: str, matches: list[str], per_mille: int) -> None:
    """Drop at random ``per_mille`` of every thousand UDP datagrams that each of
    ``matches`` (nftables matches, e.g. ``ip saddr 127.0.0.6``) selects, as a
    lossy link does."""
    lines = "\n".join(
        f"    {match} meta l4proto udp numgen random mod 1000 < {per_mille} counter drop"
        for match in matches
    )
    rules = f"""
table inet {table} {{
  chain inp {{
    type filter hook input priority 0; policy accept;
{lines}
  }}
}}
"""
    result = subprocess.run([NFT, "-f", "-"], input=rules.encode(), capture_output=True)
    if result.returncode != 0:
        pytest.fail(f"nft refused the rules: {result.stderr.decode().strip()}")
