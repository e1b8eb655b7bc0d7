"""First process inside the re-run's namespaces: lock the file system down, then exec the re-run.

Runs as root of a fresh user namespace (so it may mount), before any submitted code:
  1. every mount except /proc, /sys and /dev becomes read-only (the checkout, the venv, /etc, ...);
  2. a fresh, empty tmpfs hides each directory in `hide` (HOME, /tmp, /var/tmp, /dev/shm);
  3. each `keep` path is bound back (read-only or writable) from a descriptor opened before
     step 1, so the scratch directory and the Python installation stay reachable;
  4. the loopback interface comes up (the namespace has no other interface);
  5. all capabilities are dropped for good (bounding set, no_new_privs), so the submitted code
     cannot undo any of this, and the command runs as a child of this process (pid 1); when it
     ends, whatever it left behind is killed.

Without --lock (the socket-guard fallback) it only supervises: it runs the command as a child,
as a child subreaper, and kills every process the command left behind, detached or not.

Standalone on purpose (stdlib only, started with `python -I -S`): it must not import the code
under test. The spec is a JSON file: {"hide": [...], "keep": [[path, "ro"|"rw"], ...]}.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import signal
import socket
import struct
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC = 32, 4096, 16384
MS_NOATIME, MS_NODIRATIME, MS_RELATIME, MS_STRICTATIME = 1024, 2048, 1 << 21, 1 << 24
_OPTION_FLAGS = {
    "nosuid": MS_NOSUID,
    "nodev": MS_NODEV,
    "noexec": MS_NOEXEC,
    "noatime": MS_NOATIME,
    "nodiratime": MS_NODIRATIME,
    "relatime": MS_RELATIME,
}
PR_CAPBSET_DROP, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 24, 36, 38
SKIP_PREFIXES = ("/proc", "/sys", "/dev")

_libc = ctypes.CDLL(None, use_errno=True)


class SetupError(RuntimeError):
    """The lock-down could not be completed; the re-run must not start."""


def _mount(src: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    enc = [None if s is None else s.encode() for s in (src, target, fstype)]
    if _libc.mount(enc[0], enc[1], enc[2], flags, data.encode() or None) != 0:
        err = ctypes.get_errno()
        raise SetupError(f"mount {src or fstype} on {target}: {os.strerror(err)}")


def _mounts() -> list[tuple[str, int]]:
    """(mount point, flags to keep on a remount) for every mount, parents before children."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            point = fields[4].encode().decode("unicode_escape")
            flags = 0
            for opt in fields[5].split(","):
                flags |= _OPTION_FLAGS.get(opt, 0)
            out.append((point, flags))
    return out


def _readonly_everything() -> None:
    for point, flags in _mounts():
        if point.startswith(SKIP_PREFIXES) or not os.path.isdir(point):
            continue
        try:
            _mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags)
        except SetupError:
            if point == "/":
                raise
            # a mount we cannot remount is already read-only (locked) or shadowed by a
            # later mount; the root file system is the one that must not stay writable


def _bind(fd: int, target: str, writable: bool) -> None:
    os.makedirs(target, exist_ok=True)
    _mount(f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC)
    flags = MS_REMOUNT | MS_BIND | (0 if writable else MS_RDONLY)
    _mount(None, target, None, flags | (MS_NOSUID | MS_NODEV if writable else 0))


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s, 0x8913, req))[1]  # SIOCGIFFLAGS
        fcntl.ioctl(s, 0x8914, struct.pack("16sH14x", b"lo", flags | 1))  # SIOCSIFFLAGS, IFF_UP


def _drop_capabilities() -> None:
    with open("/proc/sys/kernel/cap_last_cap") as f:
        last = int(f.read())
    for cap in range(last + 1):
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise SetupError(f"cannot drop capability {cap}: {os.strerror(ctypes.get_errno())}")
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise SetupError("cannot set no_new_privs")


def lock_down(spec: dict) -> None:
    keep = [(p, mode == "rw", os.open(p, os.O_PATH | os.O_DIRECTORY)) for p, mode in spec["keep"]]
    _readonly_everything()
    for d in spec["hide"]:
        if os.path.isdir(d):
            _mount("tmpfs", d, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=64m")
    # writable parents first, so a read-only child inside a writable keep is bound on top
    for path, writable, fd in sorted(keep, key=lambda k: len(k[0])):
        _bind(fd, path, writable)
        os.close(fd)
    with contextlib.suppress(OSError):  # without loopback there is no network at all
        _loopback_up()
    _drop_capabilities()


def _children() -> list[int]:
    me = str(os.getpid())
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            if stat[stat.rindex(")") + 2 :].split()[1] == me:  # field 4: the parent's pid
                out.append(int(entry))
    return out


def _kill_descendants() -> None:
    """SIGKILL every child until none is left: as a subreaper (or pid 1) this process adopts
    each orphan whose parent died, so processes that detached (setsid, double fork) come
    back here and are killed too."""
    while True:
        kids = _children()
        if not kids:
            return
        for pid in kids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in kids:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def _supervise(argv: list[str], cwd: str) -> int:
    """Run the command as a child (so resource-limit signals reach it as they would anywhere
    else), reap orphans meanwhile, and kill whatever it left behind once it ends."""
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    pid = os.fork()
    if pid == 0:
        try:
            os.chdir(cwd)
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    while True:
        done, status = os.wait()
        if done == pid:
            break
    _kill_descendants()
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def main(argv: list[str]) -> int:
    """sandbox_init.py [--lock SPEC.json] --cwd DIR -- COMMAND..."""
    spec, cwd = None, "/"
    while argv and argv[0] != "--":
        if argv[0] == "--lock" and len(argv) > 1:
            with open(argv[1]) as f:
                spec = json.load(f)
        elif argv[0] == "--cwd" and len(argv) > 1:
            cwd = argv[1]
        else:
            break
        argv = argv[2:]
    if len(argv) < 2 or argv[0] != "--":
        print(
            "usage: sandbox_init.py [--lock SPEC.json] [--cwd DIR] -- COMMAND...", file=sys.stderr
        )
        return 2
    if spec is not None:
        try:
            lock_down(spec)
        except (SetupError, OSError) as err:
            print(f"sandbox: cannot set up the isolation: {err}", file=sys.stderr)
            return 97
    return _supervise(argv[1:], cwd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
