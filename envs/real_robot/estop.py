"""Operator's e-stop from any terminal that can reach the robot server.

    python -m envs.real_robot.estop tcp://robot-host:5556            # stop now (e-stop port)
    python -m envs.real_robot.estop --release tcp://robot-host:5555  # release (request port)

Stopping goes to the server's dedicated e-stop port, which a busy main loop cannot delay.
Releasing is deliberate: it asks for confirmation unless `--yes`, and goes through the normal
request port so it queues behind nothing dangerous.
"""

from __future__ import annotations

import argparse
import sys

from envs.real_robot.client import RobotClient, send_estop
from envs.real_robot.protocol import RobotError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m envs.real_robot.estop", description=__doc__)
    p.add_argument(
        "address", help="tcp://host:port (the e-stop port to stop, the main port to release)"
    )
    p.add_argument("--release", action="store_true", help="release a latched e-stop")
    p.add_argument("--yes", action="store_true", help="do not ask before releasing")
    p.add_argument("--reason", default="operator (command line)")
    args = p.parse_args(argv)
    if not args.release:
        if send_estop(args.address, args.reason, timeout_s=2.0):
            print("e-stop acknowledged: the robot is stopped and latched")
            return 0
        print(f"no acknowledgement from {args.address}: stop the robot by hand", file=sys.stderr)
        return 1
    if not args.yes and input("Is the robot safe to move again? type 'yes': ").strip() != "yes":
        print("not released")
        return 1
    client = RobotClient(args.address, timeout_s=2.0, retries=1)
    try:
        client.request("release_estop", confirm="robot is safe")
    except RobotError as err:
        print(err, file=sys.stderr)
        return 1
    finally:
        client.close()
    print("e-stop released")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
