"""Leaderboards: fixed protocols, verifiable submissions and generated standings.

protocol.py (what a board runs) -> submit.py (runs it through the sweep API) -> collect.py
(turns finished runs into a submission) -> validate.py (checks one against its protocol and its
files, confine.py keeping paths inside the entry, baselines.py the suite's list; rerun.py
re-executes it through rerun_child.py inside sandbox.py, and verified.py records the entries
that reproduce) -> standings.py + page.py (README.md, plots, index.html).
"""

from benchmark.leaderboard.protocol import Protocol, get_protocol, load_protocols

__all__ = ["Protocol", "get_protocol", "load_protocols"]
