"""Regenerate or check the golden recorded sweeps under tests/data/golden/ (benchmark/golden.py).

    PYTHONPATH=$PWD MUJOCO_GL=egl python scripts/golden.py regenerate [NAME ...]
    PYTHONPATH=$PWD MUJOCO_GL=egl python scripts/golden.py check [NAME ...]

`regenerate` records each sweep again (the scripted teacher; Gemini through the loopback fake
server), replaces its bundle and rewrites its digests.json: run it only when a change is meant
to alter behaviour, and commit both so the diff is reviewed. `check` is what `make test` does.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmark.golden import SWEEPS, check, regenerate  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["regenerate", "check"])
    ap.add_argument("names", nargs="*", help=f"golden sweeps (default: all of {', '.join(SWEEPS)})")
    args = ap.parse_args(argv)
    unknown = [n for n in args.names if n not in SWEEPS]
    if unknown:
        print(f"error: no golden sweep {unknown}; choose from {', '.join(SWEEPS)}", file=sys.stderr)
        return 2
    failed = False
    for name in args.names or list(SWEEPS):
        work = Path(tempfile.mkdtemp(prefix=f"golden-{name}-"))
        if args.command == "regenerate":
            for rid, digest in regenerate(SWEEPS[name], work).items():
                print(f"{digest}  {name}/{rid}")
            continue
        problems = check(SWEEPS[name], work)
        print("\n".join(problems) if problems else f"golden sweep '{name}': bit-identical")
        failed = failed or bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
