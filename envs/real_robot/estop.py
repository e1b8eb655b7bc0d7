"""Operator's e-stop from any terminal that can reach the robot server.

    python -m envs.real_robot.estop tcp://robot-host:5556            # stop now (e-stop port)
    python -m envs.real_robot.estop --release tcp://robot-host:5555  # release (request port)
    python -m envs.real_robot.estop --release --keys robot-keys tcp://robot-host:5555

Stopping goes to the server's dedicated e-stop port, which a busy main loop cannot delay.
Releasing is deliberate: it asks for confirmation unless `--yes`, and goes through the normal
request port so it queues behind nothing dangerous; a server started with `--keys` accepts the
release only from a client with an authorized key (`--keys DIR --client NAME`). Stopping needs
no key: anyone who can reach the robot may stop it.
"""

from __future__ import annotations

import argparse
import sys

from envs.real_robot.auth import DEFAULT_CLIENT, KeyFileError, load_client_keys
from envs.real_robot.client import RobotClient, RobotTimeout, send_estop
from envs.real_robot.protocol import RobotError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m envs.real_robot.estop", description=__doc__)
    p.add_argument(
        "address", help="tcp://host:port (the e-stop port to stop, the main port to release)"
    )
    p.add_argument("--release", action="store_true", help="release a latched e-stop")
    p.add_argument("--yes", action="store_true", help="do not ask before releasing")
    p.add_argument("--reason", default="operator (command line)")
    p.add_argument("--keys", help="key folder, for a server started with --keys (release only)")
    p.add_argument("--client", default=DEFAULT_CLIENT, help="which client key in --keys")
    args = p.parse_args(argv)
    if not args.release:
        if send_estop(args.address, args.reason, timeout_s=2.0):
            print("e-stop acknowledged: the robot is stopped and latched")
            return 0
        print(f"no confirmation from {args.address}: stop the robot by hand", file=sys.stderr)
        return 1
    try:
        keys = load_client_keys(args.keys, args.client) if args.keys else None
    except KeyFileError as err:
        print(err, file=sys.stderr)
        return 2
    if not args.yes and input("Is the robot safe to move again? type 'yes': ").strip() != "yes":
        print("not released")
        return 1
    client = RobotClient(args.address, timeout_s=2.0, retries=1, keys=keys)
    try:
        client.request("release_estop", confirm="robot is safe")
    except (RobotError, RobotTimeout) as err:
        print(err, file=sys.stderr)
        return 1
    finally:
        client.close()
    print("e-stop released")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
