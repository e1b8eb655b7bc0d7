"""What the container engine and the image builds take from this host (`make docker-test`).

Two files, written into one folder that `scripts/docker_test.sh` hands to the engine:

- `containers.conf` (read through CONTAINERS_CONF, so /etc is not touched): podman's defaults
  fail on these machines: it asks for more open files/processes than the hard limits allow,
  crun refuses hybrid cgroups, and there is no journald for its events.
- `pip.conf` + `ca.crt`: pip inside a build must find packages where the host's pip finds them
  (its index, extra indexes, local wheel folders) and trust the same CA bundle. Both go in as
  build secrets, so neither is baked into a layer; local folders are listed in `mounts` to be
  bind-mounted read-only at the same path during the build.

Standard library only: it runs before any virtualenv exists.
"""

from __future__ import annotations

import argparse
import ast
import resource
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

# where the build's RUN sees the secrets (the Dockerfiles mount them there)
CERT_TARGET = "/run/secrets/ca.crt"
# pip settings that say where packages come from (plus how patiently); the rest of the host's
# configuration (constraints, caches, version checks) is the host's business, not the image's
PASSED_KEYS = ("index-url", "extra-index-url", "find-links", "trusted-host", "timeout", "retries")
ALIASES = {"default-timeout": "timeout"}


def containers_conf(nofile: int, nproc: int) -> str:
    """podman settings that work here: ulimits capped at the machine's hard limits, runc on
    cgroupfs (crun refuses hybrid cgroups) and a file events log (no journald)."""
    return (
        "# written by scripts/docker_env.py; used through CONTAINERS_CONF\n"
        "[containers]\n"
        f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
        "[engine]\n"
        'runtime = "runc"\n'
        'cgroup_manager = "cgroupfs"\n'
        'events_logger = "file"\n'
    )


def hard_limits(pid_max: Path = Path("/proc/sys/kernel/pid_max")) -> tuple[int, int]:
    """(nofile, nproc) a container may be given without CAP_SYS_RESOURCE: this process's hard
    limits, nproc also at most kernel.pid_max (runc was refused anything above it here, even
    below the hard limit); unlimited becomes a finite large number."""
    cap = 1 << 20
    out = []
    for which in (resource.RLIMIT_NOFILE, resource.RLIMIT_NPROC):
        hard = resource.getrlimit(which)[1]
        out.append(cap if hard == resource.RLIM_INFINITY else min(hard, cap))
    if pid_max.is_file():
        out[1] = min(out[1], int(pid_max.read_text()))
    return out[0], out[1]


def parse_pip_config_list(text: str) -> dict[str, str]:
    """`pip config list` output -> key -> value, environment variables over files, the way pip
    ranks them (`:env:.find-links='/x'` beats `global.find-links='/y'`)."""
    ranked: dict[str, tuple[int, str]] = {}
    for line in text.splitlines():
        name, sep, raw = line.partition("=")
        if not sep or "." not in name:
            continue
        scope, _, key = name.rpartition(".")
        key = ALIASES.get(key, key)
        rank = 3 if scope == ":env:" else {"global": 0, "user": 1, "site": 2}.get(scope, 0)
        value = ast.literal_eval(raw) if raw[:1] in "'\"" else raw
        if key not in ranked or rank >= ranked[key][0]:
            ranked[key] = (rank, value)
    return {k: v for k, (_, v) in ranked.items()}


def local_path(location: str) -> str | None:
    """The host folder behind a find-links/index location, or None for a remote one."""
    if location.startswith("file:"):
        return urlparse(location).path or None
    if "://" in location:
        return None
    return location


def pip_settings(config: dict[str, str]) -> tuple[str, list[str], str | None]:
    """(pip.conf text for the build, local folders it needs mounted, the host's CA bundle)."""
    lines = [
        "# written by scripts/docker_env.py; mounted as a build secret, never copied",
        "[global]",
    ]
    mounts: list[str] = []
    for key in PASSED_KEYS:
        if key not in config:
            continue
        value = config[key]
        if key in ("index-url", "extra-index-url", "find-links"):
            for location in value.split():
                path = local_path(location)
                # a local index's pages link to files beside it (`../../files/x.whl`)
                if path and key != "find-links":
                    path = str(Path(path.rstrip("/")).parent)
                if path and path not in mounts:
                    mounts.append(path)
        lines.append(f"{key} = {value}")
    cert = config.get("cert")
    if cert:
        lines.append(f"cert = {CERT_TARGET}")
    return "\n".join(lines) + "\n", mounts, cert


def host_pip_config(python: str) -> dict[str, str]:
    """The effective pip configuration of `python`, or {} when it has no pip."""
    try:
        run = subprocess.run(
            [python, "-m", "pip", "config", "list"],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return {}
    return parse_pip_config_list(run.stdout)


def write(folder: Path, python: str) -> list[str]:
    """Write containers.conf, pip.conf, ca.crt (if any) and mounts into `folder`; returns the
    lines to print."""
    folder.mkdir(parents=True, exist_ok=True)
    nofile, nproc = hard_limits()
    (folder / "containers.conf").write_text(containers_conf(nofile, nproc))
    # `podman build` takes no ulimits from containers.conf: the build passes these as flags
    (folder / "ulimits").write_text(f"nofile={nofile}:{nofile}\nnproc={nproc}:{nproc}\n")
    conf, mounts, cert = pip_settings(host_pip_config(python))
    (folder / "pip.conf").write_text(conf)
    ca = folder / "ca.crt"
    if cert and Path(cert).is_file():
        shutil.copyfile(cert, ca)
    else:  # an empty bundle keeps the secret mount valid; pip.conf then names no cert
        ca.write_text("")
        conf = "\n".join(ln for ln in conf.splitlines() if not ln.startswith("cert")) + "\n"
        (folder / "pip.conf").write_text(conf)
    present = [m for m in mounts if Path(m).is_dir()]
    (folder / "mounts").write_text("".join(f"{m}\n" for m in present))
    return [
        f"engine settings: ulimits nofile={nofile} nproc={nproc}, runc, cgroupfs, file events",
        f"pip settings from {python}: {', '.join(conf.splitlines()[2:]) or 'pip defaults'}",
        f"read-only build mounts: {' '.join(present) or 'none'}",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="where to write the settings")
    parser.add_argument("--python", default=sys.executable, help="whose pip configuration")
    args = parser.parse_args(argv)
    for line in write(args.folder, args.python):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
