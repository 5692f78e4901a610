"""The sandbox process's set-up, before the submission is imported: what it can see, and what it may use.

Started by the trusted side (nn_harness/sandbox/client.py) as `python -I -S -B -c <bootstrap> <config>`, with a scrubbed
environment and an empty temporary folder. Here, in order:
  1. View. As root, in mount and network namespaces of its own, it changes root to an empty tmpfs into which only
     its own folder (NumPy and the packages the course allows bind-mounted read-only into lib/:
     `config["libraries"]`), the standard library (site-packages, with torch, covered by an empty tmpfs:
     `config["hide"]`) and the system's shared libraries are bind-mounted, each at its usual path. The grader's
     checkout, data and results are not in it, wherever they are. Without root: the libraries are linked into lib/,
     nothing is hidden (docs/grading.md says what that leaves open).
  2. Path: the sandbox folder's lib (NumPy, the allowed packages, this package), the standard library. Nothing else
     is importable.
  3. NumPy and the sandbox server are imported; limits are set: address space, CPU seconds, file size, processes.
  4. As root: the process drops to an unprivileged uid/gid of its own; the parent's death kills it.
Only the standard library is imported before step 2.
"""

import ctypes
import ctypes.util
import faulthandler
import importlib
import json
import os
import resource
import signal
import sys

CLONE_NEWNS, CLONE_NEWNET = 0x00020000, 0x40000000
MS_BIND, MS_REC, MS_PRIVATE, MS_RDONLY, MS_REMOUNT = 4096, 16384, 1 << 18, 1, 32
PR_SET_PDEATHSIG = 1
# What the dynamic loader needs for NumPy's and the standard library's extension modules, and a few devices.
SYSTEM = ("/lib", "/lib32", "/lib64", "/usr/lib", "/usr/lib32", "/usr/lib64", "/etc/ld.so.cache",
          "/dev/null", "/dev/zero", "/dev/urandom")


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(libc: ctypes.CDLL, source: str, target: str, kind: str | None, flags: int, what: str,
           data: bytes | None = None) -> None:
    _check(libc.mount(source.encode(), target.encode(), kind.encode() if kind else None, flags, data), what)


def _namespace_view(config: dict, libc: ctypes.CDLL) -> tuple[str, list[str]]:
    """Change root to a tmpfs holding only what the sandbox needs, each at its usual path, in a network namespace
    of its own where the kernel allows one: (stdlib, what it sees)."""
    root = config["root"]
    _check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    network = "no network" if libc.unshare(CLONE_NEWNET) == 0 else "the machine's network"  # a loopback of its own
    _mount(libc, "none", "/", None, MS_REC | MS_PRIVATE, "making / private")
    for name, source in config["libraries"].items():
        target = os.path.join(root, "lib", name)
        _mount_point(source, target)
        _mount(libc, source, target, None, MS_BIND | MS_REC, f"binding {name}")
        _mount(libc, "none", target, None, MS_REMOUNT | MS_BIND | MS_RDONLY, f"making {name} read-only")
    view = os.path.join(root, "view")
    os.mkdir(view, 0o700)
    _mount(libc, "tmpfs", view, "tmpfs", 0, "the sandbox's root", b"mode=755")
    own = [os.path.join(root, name) for name in sorted(os.listdir(root)) if name != "view"]
    system = [path for path in SYSTEM if os.path.lexists(path)]
    for path in [*system, config["stdlib"], *own]:  # in this order: the standard library may lie in /usr/lib
        inside = view + path
        os.makedirs(os.path.dirname(inside), exist_ok=True)
        if os.path.islink(path):  # e.g. /lib -> usr/lib on a merged /usr
            os.symlink(os.readlink(path), inside)
            continue
        _mount_point(path, inside)
        _mount(libc, path, inside, None, MS_BIND | MS_REC, f"binding {path}")
        if path not in own:  # the standard library and the system's folders are read-only (the libraries in lib/
            # were made read-only where they were bound, and stay so in this recursive bind)
            _mount(libc, "none", inside, None, MS_REMOUNT | MS_BIND | MS_RDONLY, f"making {path} read-only")
    for path in config["hide"]:  # site-packages (torch), when it lies inside the standard library or /usr/lib
        if os.path.isdir(view + path):
            _mount(libc, "tmpfs", view + path, "tmpfs", 0, f"hiding {path}", b"mode=755")
    os.chroot(view)
    os.chdir("/")
    return config["stdlib"], [config["stdlib"], *system, network]


def _mount_point(source: str, target: str) -> None:
    """An empty folder, or an empty file (ld.so.cache, /dev/null, a top-level module), to bind `source` onto."""
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        open(target, "x").close()  # noqa: SIM115


def _linked_view(config: dict) -> str:
    for name, source in config["libraries"].items():
        os.symlink(source, os.path.join(config["root"], "lib", name))
    return config["stdlib"]


def _limit(which: int, value: int) -> None:
    _, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, hard))


def _tasks_of(uid: int) -> int:
    """Processes and threads of `uid` (what RLIMIT_NPROC counts)."""
    count = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        if int(fields.get("Uid", "-1").split()[0]) == uid:
            count += int(fields.get("Threads", "1"))
    return count


def _drop(uid: int, work: str, libc: ctypes.CDLL) -> None:
    os.chown(work, uid, uid)
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # after setuid: changing credentials clears it


def start() -> None:
    config = json.loads(sys.argv[1])
    root = config["root"]
    libc = _libc()
    view = "linked"
    if os.geteuid() == 0:
        try:
            stdlib, shown = _namespace_view(config, libc)
            view = "own root: its folder, " + ", ".join(shown)
        except OSError as error:  # no CAP_SYS_ADMIN (e.g. an unprivileged container)
            stdlib, view = _linked_view(config), f"linked (no mount namespace: {error})"
    else:
        stdlib = _linked_view(config)
    sys.path[:] = [os.path.join(root, "lib"), stdlib, os.path.join(stdlib, "lib-dynload")]
    sys.path_importer_cache.clear()
    importlib.invalidate_caches()

    import numpy  # noqa: F401 - before the limits and the uid drop: it maps its libraries once

    from nn_harness.sandbox import server

    work = os.path.join(root, "work")
    os.chdir(work)
    if config["memory_mb"]:
        _limit(resource.RLIMIT_AS, int(config["memory_mb"] * 1024 * 1024))
    _limit(resource.RLIMIT_CPU, int(config["cpu_s"]))
    _limit(resource.RLIMIT_FSIZE, int(config["file_mb"] * 1024 * 1024))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit raises OSError in the writer instead
    uid = config["uid"] if os.geteuid() == 0 else None
    if uid is not None:
        _limit(resource.RLIMIT_NPROC, config["processes"])  # counted per uid: this sandbox's uid is its own
        _drop(uid, work, libc)
    else:  # counted over every process of this user: leave room for what runs already
        _limit(resource.RLIMIT_NPROC, _tasks_of(os.getuid()) + config["processes"])
    faulthandler.enable(file=sys.stderr)
    faulthandler.register(signal.SIGUSR1, file=sys.stderr)  # the trusted side asks where a timed-out call was
    server.serve(config, view)
