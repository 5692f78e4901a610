"""The trust boundary, trusted side: the sandbox process that runs the submission, and handles to what lives there.

The checks use `implementation.module` as before (`nn.Linear(3, 2)`, `layer.forward(x)`, `layer.parameters()`),
but every one of those is a request to a sandbox process (nn_harness/sandbox/server.py) that alone imports the
submission. Nothing comes back but JSON and .npy bytes (nn_harness/sandbox/wire.py); objects stay in the sandbox and
are represented here by handles; arrays are shared: each side sends the other what changed, so a check still sees
the very buffers it was handed (zero_grad in place, optimizer updates, accumulation).

A sandbox that hangs past the check's deadline, dies, or sends what is not a valid message is killed; the check
fails with the reason (SandboxLost) and the next check gets a new sandbox.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import importlib.machinery
import itertools
import json
import linecache
import os
import re
import select
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import numpy as np

from nn_harness.sandbox import SERVICES, notebook, packages, wire
from nn_harness.sandbox.imports import GRADERS, Settings
from nn_harness.sandbox.student import CheckFailure, RaisedInSubmission, failure

PACKAGE = Path(__file__).resolve().parent.parent  # nn_harness/
PROJECT = PACKAGE.parent
FRAMEWORKS = {"torch": ("libtorch", "/torch/"), "tensorflow": ("tensorflow",), "jax": ("jaxlib", "/jax/")}
COPY_LIMIT = 50 * 1024 * 1024  # bytes of a submission's folder copied into the sandbox
COPY_ENTRIES = 10_000  # files and folders of a submission's folder looked at (a file given in a huge folder)
UID_BASE = 200_000  # each sandbox runs as a uid of its own above this, when the grader is root


class SandboxLost(BaseException):  # noqa: N818 - not an Exception: hypothesis must not retry or shrink on it
    """The sandbox was killed or died during a check: the check fails with this reason, at once."""


@dataclass
class Limits:
    memory_mb: float = 4096  # address space; torch is not in the sandbox, so this is the submission's own
    import_s: float = 60.0
    cpu_s: float = 3600.0  # a backstop: the wall-clock deadline of each check stops a loop first
    file_mb: float = 64.0
    processes: int = 32


@dataclass
class Hello:
    """What the sandbox reports after importing and adapting the submission (or why it could not)."""

    ok: bool
    origin: str
    error: str | None = None
    header: list[str] = field(default_factory=list)
    style: str = "native"
    view: str = ""
    uid: int | None = None
    skipped: list[list] = field(default_factory=list)  # a notebook's statements that failed: [cell, line, error]
    aliases: list[str] = field(default_factory=list)  # NumPy aliases restored (numpy_aliases)
    stand_ins: list[list[str]] = field(default_factory=list)  # [module, where it is imported, why it is absent]
    variants: dict[str, str] = field(default_factory=dict)  # layer -> its template year's variant ([variants])
    absent: list[str] = field(default_factory=list)  # [optional] layers the submission does not define at all


# --------------------------------------------------------------------------------------------------- handles

class Remote:
    """An object that lives in the sandbox. Attribute reads and writes are requests."""

    _shown_dunders = frozenset({"__missing__", "__file__", "__name__"})

    def __init__(self, sandbox: Sandbox, handle: int, kind: str) -> None:
        object.__setattr__(self, "_sandbox", sandbox)
        object.__setattr__(self, "_handle", handle)
        object.__setattr__(self, "_kind", kind)
        object.__setattr__(self, "_methods", {})

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name not in self._shown_dunders:
            raise AttributeError(name)  # numpy's and copy's protocol probes: a handle is not an array
        if name in self._methods:  # a method is looked up again when called (callmethod): one request, not two
            return self._methods[name]
        value = self._sandbox.request("getattr", self, name)
        if isinstance(value, RemoteMethod | RemoteCallable):  # a class or function of a namespace too (nn.Linear)
            self._methods[name] = value
        return value

    def know_methods(self, names: list[str]) -> None:
        """The methods the sandbox says this object's class defines: `obj.forward` then costs no request (the call
        looks the method up there, so it is still the object's own)."""
        for name in names:
            self._methods.setdefault(name, RemoteMethod(self, name))

    def __setattr__(self, name: str, value: Any) -> None:
        self._methods.pop(name, None)
        self._sandbox.request("setattr", self, name, value)

    def __repr__(self) -> str:
        return f"<{self._kind} object>"

    @property
    def sandboxed_type(self) -> str:
        return self._kind


class RemoteCallable(Remote):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._sandbox.pipelining is not None:
            return self._sandbox.promise(self, args, kwargs)
        return self._sandbox.request("call", self, list(args), kwargs)


class RemoteMethod:
    """`obj.name` for an object in the sandbox: calling it is one request."""

    def __init__(self, owner: Remote | Promise, name: str) -> None:
        self.owner, self.name = owner, name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        sandbox = self.owner._sandbox
        if sandbox.pipelining is not None:
            return sandbox.promise(self, args, kwargs)
        return sandbox.request("callmethod", self.owner, self.name, list(args), kwargs)

    def later(self, what: str, *args: Any) -> None:
        """Call it with the sandbox's next request (its result unused): one round trip fewer. A failure fails that
        request, as CheckFailure naming `what`; the arguments go as they are then."""
        self.owner._sandbox.deferred.append(Deferred(self, args, {}, what))

    def __repr__(self) -> str:
        return f"<method {self.name} of {self.owner!r}>"


class Promise:
    """The result of a call sent with the sandbox's next request (promise pipelining): a later call of the same
    request may name it as its object or among its arguments, so a constructor and the layer's parameters(), or a
    backward and grad_parameters(), cost one round trip. Its value is there once that request has returned."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox
        self._sent = False
        self._value: Any = None
        self._error: BaseException | None = None  # what the request that carried it raised

    def __getattr__(self, name: str) -> RemoteMethod:
        if name.startswith("_"):
            raise AttributeError(name)
        return RemoteMethod(self, name)  # its method: called in the sandbox on the promised object

    @property
    def value(self) -> Any:
        """The result; the pending calls are sent now if they have not been (a failure raises as the request's)."""
        if not self._sent:
            self._sandbox.flush()
        if self._error is not None:
            raise self._error
        return self._value

    @property
    def sandboxed_type(self) -> str:
        return "promised object"

    def __repr__(self) -> str:
        return "<promise>"


@dataclass
class Deferred:
    """A call sent with the sandbox's next request: RemoteMethod.later (no result wanted) or a Promise's."""

    fn: Any  # RemoteMethod or RemoteCallable
    args: tuple
    kwargs: dict
    what: str  # the call as a failure names it
    promise: Promise | None = None


class Shared:
    """An array both sides hold. One that came from the sandbox is handed to the checks as a view of memory kept
    here, so what a check writes into it reaches the sandbox even when the check has dropped it since; one that
    came from the checks is theirs, and followed while they hold it."""

    def __init__(self, base: np.ndarray | None, held: np.ndarray) -> None:
        self.base = base
        self.held = weakref.ref(held)
        self.key = id(held)
        self.last = wire.fingerprint(held)
        self._strong: np.ndarray | None = held  # until hold() hands it out

    @classmethod
    def of_theirs(cls, array: np.ndarray) -> Shared:
        return cls(array, array.view())

    @classmethod
    def of_ours(cls, array: np.ndarray) -> Shared:
        shared = cls(None, array)
        shared._strong = None
        return shared

    def hold(self) -> np.ndarray:
        """The array the checks see (the same one while they hold it)."""
        held = self.held() if self._strong is None else self._strong
        if held is None:  # dropped since: a new view of the same memory
            held = self.base.view()
            self.held, self.key = weakref.ref(held), id(held)
        self._strong = None
        return held

    def memory(self) -> np.ndarray | None:
        return self.base if self.base is not None else self.held()

    def assign(self, value: np.ndarray) -> None:
        memory = self.memory()
        if memory is None:
            return
        if memory.shape != value.shape and memory.size == value.size:
            memory.shape = value.shape
        if memory.shape == value.shape:
            memory[...] = value
        self.last = wire.fingerprint(memory)


# --------------------------------------------------------------------------------------------------- the process

class Sandbox:
    """One sandbox process at a time for one submission; replaced when it is lost."""

    def __init__(self, target: str, api: str, limits: Limits, notebook_cells: str | None = None,
                 settings: Settings | None = None) -> None:
        self.target, self.api, self.limits = target, api, limits
        self.notebook_cells = notebook_cells  # as given (--notebook-cells); None: a notebook's default, a .py as is
        self.settings = settings or Settings()  # what the submission's imports find (numpy_aliases, allow)
        self.not_copied: list[str] = []  # the submission's files left out of its copy (over the budget)
        self.converted: notebook.Converted | None = None  # a notebook, as the sandbox runs it
        self.process: subprocess.Popen | None = None
        self.lost: str | None = None
        self.deadline: float | None = None
        self.seconds: float | None = None
        self.hello: Hello | None = None
        self.root: Any = None
        self.uid: int | None = None
        self.requests = 0  # round trips made, over every sandbox this one started (bench/speed.py counts them)
        self._reset_tables()

    def _reset_tables(self) -> None:
        self.arrays: dict[int, Shared] = {}  # handle -> an array both sides hold
        self.ids: dict[int, int] = {}  # id(the array the checks hold) -> handle
        self.proxies: weakref.WeakValueDictionary[int, Remote] = weakref.WeakValueDictionary()
        self.released: set[int] = set()
        self.counter = itertools.count(-1, -1)  # handles of arrays made here (the sandbox counts up from 1)
        self.deferred: list[Deferred] = []  # calls sent with the next request (.later, promises)
        self.pipelining: str | None = None  # inside pipelined(what): calls become promises, named `what`
        self._batch: dict[int, int] = {}  # while a request is encoded: id(promise) -> its call's index in it
        self.services: dict[str, Remote] = {}  # the harness's sandbox-side modules fetched (service)

    # -- life
    def start(self) -> Hello:
        """Start a sandbox and import the submission in it; the Hello says how that went."""
        self.stop()
        self._reset_tables()
        self.lost = None
        self.folder = Path(tempfile.mkdtemp(prefix="nn-sandbox-"))  # 0700: no other sandbox (other uid) enters
        try:
            config = self._prepare()
            self.uid = config["uid"] if os.geteuid() == 0 else None  # ours to choose and to kill, not its to say
            if self.uid is not None:
                os.chown(self.folder, self.uid, self.uid)  # its own uid, and root, may enter
        except (OSError, ValueError) as error:
            self.hello = Hello(False, self.target, f"the submission could not be prepared for the sandbox: {error}")
            return self.hello
        requests, self._requests = os.pipe()
        self._replies, replies = os.pipe()
        fcntl.fcntl(self._requests, fcntl.F_SETFL, os.O_NONBLOCK)
        config["fds"] = [requests, replies]
        self.log = open(os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")  # noqa: SIM115
        boot = (f"import sys; sys.path[:0] = [{str(self.folder / 'lib')!r}]; "
                "from nn_harness.sandbox.jail import start; start()")
        work = str(self.folder / "work")
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": work, "TMPDIR": work, "PYTHONHASHSEED": "0",
               "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-S", "-B", "-c", boot, json.dumps(config)], stdin=subprocess.DEVNULL,
            stdout=self.log, stderr=self.log, cwd=work, env=env, pass_fds=(requests, replies),
            start_new_session=True)
        os.close(requests)
        os.close(replies)
        self.deadline, self.seconds = time.monotonic() + self.limits.import_s, self.limits.import_s
        try:
            header, blobs = wire.read_frame(self._replies, self._wait_readable)
            info = header["hello"]
            self.root = wire.decode(info.pop("root"), blobs, lambda node: self._tagged(node, blobs))
            self.hello = _hello(info, self.uid)
        except (TimeoutError, EOFError, wire.WireError, KeyError, TypeError) as error:
            reason = self._kill_reason(error, "the import")
            self.hello = Hello(False, self.target, None)
            self.lost = reason
            self.hello.error = reason
            self.stop()
        finally:
            self.deadline = self.seconds = None
        return self.hello

    @property
    def log_path(self) -> Path:
        return self.folder.with_name(self.folder.name + ".log")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            self._kill_all(process)
            process.wait()
            for fd in (self._requests, self._replies):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self.log.close()
        folder = getattr(self, "folder", None)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
            self.log_path.unlink(missing_ok=True)

    def _kill_all(self, process: subprocess.Popen) -> None:
        """The sandbox, and whatever it started: its process group, and every process of its uid."""
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        uid = self.uid
        if uid is None:
            return
        for _ in range(5):  # a fork bomb may be forking while we kill
            pids = [pid for pid in _pids() if _uid_of(pid) == uid]
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    # -- per check
    def begin(self, seconds: float | None) -> None:
        if self.process is None or self.lost:
            if self.hello is not None and self.hello.ok is False and not self._restartable:
                return
            self.start()
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds if seconds else None
        if self.process is not None:
            os.truncate(self.log_path, 0)

    @property
    def _restartable(self) -> bool:
        """A submission that could not be imported is not retried (each try could cost the import timeout)."""
        return False

    def end(self) -> list[str]:
        """Frameworks (torch, ...) the sandbox has mapped; when any, it is replaced before the next check."""
        self.deadline = self.seconds = None
        found = self.frameworks()
        if found:
            self.stop()
            self.lost = f"the sandbox mapped {', '.join(found)}"
        return found

    def frameworks(self) -> list[str]:
        if self.process is None:
            return []
        try:
            maps = Path(f"/proc/{self.process.pid}/maps").read_text()
        except OSError:
            return []
        found = []
        for name, markers in FRAMEWORKS.items():
            if not any(marker in maps for marker in markers):  # after every check: most often, nowhere at all
                continue
            fields = (line.split(None, 5) for line in maps.splitlines())
            paths = sorted({f[-1] for f in fields if len(f) == 6 and any(m in f[-1] for m in markers)})
            if paths:
                found.append(f"{name} ({paths[0]})")
        return found

    def loaded_files(self) -> list[str]:
        return list(self.request("files"))

    def service(self, name: str) -> Any:
        """The sandbox-side module `name`, fetched once per sandbox (its functions are then looked up once too)."""
        if name not in self.services:
            self.services[name] = self.request("service", name)
        return self.services[name]

    # -- promise pipelining
    @contextlib.contextmanager
    def pipelined(self, what: str) -> Iterator[None]:
        """Calls into the sandbox made inside are not made yet: each returns a Promise, and goes with the next
        request (its failure fails that request, as CheckFailure naming `what`)."""
        outer, self.pipelining = self.pipelining, what
        try:
            yield
        finally:
            self.pipelining = outer

    def promise(self, fn: Any, args: tuple, kwargs: dict) -> Promise:
        promise = Promise(self)
        self.deferred.append(Deferred(fn, args, kwargs, str(self.pipelining), promise))
        return promise

    # -- requests
    def request(self, op: str, *args: Any) -> Any:
        if self.lost:
            raise SandboxLost(self.lost)
        if self.process is None:
            raise SandboxLost("the sandbox is not running")
        enc = wire.Encoder(self._encode_other)
        writes = []
        for handle, shared in list(self.arrays.items()):
            memory = shared.memory()
            if memory is not None and wire.fingerprint(memory) != shared.last:
                writes.append([handle, wire.array_node(memory, enc.blob)])
                shared.last = wire.fingerprint(memory)
            if shared.held() is None:  # written back (above) and no longer held here: the sandbox may let it go
                del self.arrays[handle]
                if self.ids.get(shared.key) == handle:  # its id may be a live array's by now (memory reused)
                    del self.ids[shared.key]
                self.released.add(handle)
        deferred, self.deferred = self.deferred, []
        batch = {id(d.promise): index for index, d in enumerate(deferred) if d.promise is not None}
        for d in deferred:
            if d.promise is not None:
                d.promise._sent = True
        self._batch = batch
        try:
            before = enc([[d.fn, list(d.args), d.kwargs, d.promise is not None] for d in deferred])
            tree = enc(list(args))
        except BaseException as error:
            self._break_promises(deferred, error)
            raise
        finally:
            self._batch = {}
        released, self.released = sorted(self.released), set()
        header = {"op": op, "args": tree, "before": before, "writes": writes, "release": released,
                  "blobs": enc.lengths}
        self.requests += 1
        try:
            wire.write_frame(self._requests, header, enc.blobs, self._wait_writable)
            reply, blobs = wire.read_frame(self._replies, self._wait_readable)
            result = self._reply(reply, blobs, deferred)
        except (TimeoutError, EOFError, BrokenPipeError, wire.WireError, KeyError, TypeError) as error:
            self.lost = self._kill_reason(error, "the check")
            self._break_promises(deferred, SandboxLost(self.lost))
            raise SandboxLost(self.lost) from None
        if "error" in reply:
            failed = reply.get("before")
            if type(failed) is int and 0 <= failed < len(deferred):  # a deferred call failed; the request did not run
                error = failure(deferred[failed].what, _raised(reply["error"], "callmethod"))
            else:
                error = _raised(reply["error"], op)
            self._break_promises(deferred, error)
            raise error
        return result

    @staticmethod
    def _break_promises(deferred: list[Deferred], error: BaseException) -> None:
        """The promises of a request that failed: their value raises what the request raised."""
        for d in deferred:
            if d.promise is not None:
                d.promise._error = error

    def flush(self) -> None:
        """Make the deferred calls now (a check's last calls: their failures are the check's)."""
        if self.deferred:
            self.request("flush")

    def _reply(self, reply: dict, blobs: list[bytes], deferred: list[Deferred]) -> Any:
        later: dict[int, dict] = {}  # arrays new here that a call changed after a promised result held them
        for handle, node in reply.get("updates", []):
            if handle in self.arrays:
                self.arrays[handle].assign(wire.node_array(node, blobs))
            else:
                later[handle] = node
        if "error" in reply:
            error = reply["error"]
            if not isinstance(error, dict) or not all(isinstance(error.get(k), str) for k in ("kind", "type", "message")):
                raise wire.WireError("an error reply without kind, type and message")
            return None
        results = reply.get("results")
        if type(results) is not list or len(results) != len(deferred):
            raise wire.WireError("results that are not one per deferred call")
        seen = {handle for handle, _ in reply.get("updates", []) if handle not in later}
        result = wire.decode(reply["ok"], blobs, lambda node: self._tagged(node, blobs, seen, later))
        # The deferred calls' results, last first: each as it was when its call returned. An array that a later call
        # changed, or that a later result holds too, is the shared array as it is now and, in the earlier result, a
        # copy as it was then.
        for d, node in reversed(list(zip(deferred, results))):
            if d.promise is not None:
                d.promise._value = wire.decode(node, blobs, lambda n: self._tagged(n, blobs, seen, later, then=True))
        return result

    def _encode_other(self, value: Any, enc: wire.Encoder) -> Any:
        if isinstance(value, Remote):
            if value._sandbox is not self:
                raise SandboxLost("a handle from a sandbox that was replaced was used")
            return {"handle": value._handle}
        if isinstance(value, RemoteMethod):
            owner = self._encode_other(value.owner, enc)
            return {"method": owner.get("handle", owner), "name": value.name}  # a promised object's: its node
        if isinstance(value, Promise):
            if value._sandbox is not self:
                raise SandboxLost("a promise from a sandbox that was replaced was used")
            if not value._sent:  # a pending call's result named by an earlier one: not possible in call order
                raise RuntimeError("a promise named before its call was sent")
            index = self._batch.get(id(value))
            return {"promise": index} if index is not None else enc(value.value)
        if isinstance(value, np.ndarray):
            handle = self.ids.get(id(value))
            if handle is not None and handle in self.arrays and self.arrays[handle].held() is value:
                return {"handle": handle}
            if not value.flags.writeable:
                return wire.array_node(value, enc.blob, ref=None)  # a constant (a data set)
            handle = next(self.counter)
            self._share(handle, Shared.of_ours(value))
            return wire.array_node(value, enc.blob, ref=handle)
        raise TypeError(f"cannot send a {type(value).__name__} to the sandbox")

    def _tagged(self, node: dict, blobs: list[bytes], seen: set[int] | None = None,
                later: dict[int, dict] | None = None, then: bool = False) -> Any:
        """What a node of the sandbox's stands for. In a reply (`seen`: the arrays it has brought up to date;
        `later`: arrays new here whose value changed after a promised result held them), a promised result (`then`)
        holds, of an array brought up to date, a copy as it was when its call returned."""
        if "array" in node:
            array, handle = wire.node_array(node, blobs), node.get("ref")
            if type(handle) is not int:
                raise wire.WireError("an array without a handle")
            if seen is not None and later is not None:
                if then and handle in later:  # shared from now on as it is now; this result's is as it was then
                    self._tagged({**later.pop(handle), "ref": handle}, blobs)
                    seen.add(handle)
                    return array
                if then and handle in seen:
                    return array
                seen.add(handle)
                later.pop(handle, None)
            shared = self.arrays.get(handle)
            if shared is None:
                shared = self._share(handle, Shared.of_theirs(array))
            else:
                shared.assign(array)
            held = shared.hold()
            self.ids[shared.key] = handle
            return held
        if "handle" in node:
            handle, kind = node["handle"], node.get("type", "object")
            if type(handle) is not int or type(kind) is not str:
                raise wire.WireError("a malformed handle")
            proxy = self._proxy(handle, kind[:80], node.get("callable") is True)
            methods = node.get("methods", [])
            if not isinstance(methods, list) or not all(type(name) is str for name in methods):
                raise wire.WireError("a malformed list of methods")
            proxy.know_methods(methods[:100])
            return proxy
        if "method" in node:
            handle, name = node["method"], node.get("name")
            if type(handle) is not int or type(name) is not str:
                raise wire.WireError("a malformed method")
            return RemoteMethod(self._proxy(handle, "object", False), name)
        raise wire.WireError(f"an unknown value {sorted(node)[:3]}")

    def _proxy(self, handle: int, kind: str, is_callable: bool) -> Remote:
        proxy = self.proxies.get(handle)
        if proxy is None:
            proxy = (RemoteCallable if is_callable else Remote)(self, handle, kind)
            self.proxies[handle] = proxy
            weakref.finalize(proxy, self._release, handle)
        self.released.discard(handle)
        return proxy

    def _release(self, handle: int) -> None:
        if handle not in self.proxies and handle not in self.arrays:
            self.released.add(handle)

    def _share(self, handle: int, shared: Shared) -> Shared:
        self.arrays[handle] = shared
        self.ids[shared.key] = handle
        self.released.discard(handle)
        return shared

    # -- deadlines and deaths
    def _wait(self, readable: bool) -> None:
        fd = self._replies if readable else self._requests
        remaining = None if self.deadline is None else self.deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            raise TimeoutError
        ready = select.select([fd], [], [], remaining) if readable else select.select([], [fd], [], remaining)
        if not any(ready):
            raise TimeoutError

    def _wait_readable(self) -> None:
        self._wait(True)

    def _wait_writable(self) -> None:
        self._wait(False)

    def _kill_reason(self, error: BaseException, during: str) -> str:
        process = self.process
        if isinstance(error, TimeoutError) and process is not None:
            where = self._where_stuck(process)
            self.stop()
            return f"timed out after {self.seconds:g} s (the sandbox was stopped during {during}){where}"
        if isinstance(error, wire.WireError):
            self.stop()
            return f"the sandbox sent a message that is not valid: {error}"
        code = process.wait(timeout=10) if process is not None else None
        fault = self._fault_text()
        self.stop()
        if code is None:
            return f"the sandbox was lost during {during}"
        if code >= 0:
            return f"the sandbox ended during {during}: it exited with code {code}" + fault
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
        why = {"SIGKILL": " (the memory limit, the operating system's out-of-memory killer, or the submission itself)",
               "SIGXCPU": f" (its CPU-time limit of {self.limits.cpu_s:g} s)",
               "SIGSEGV": " (a segmentation fault)"}.get(name, "")
        return f"the sandbox ended during {during}: killed by signal {name}{why}" + fault

    def _where_stuck(self, process: subprocess.Popen) -> str:
        try:
            process.send_signal(signal.SIGUSR1)  # faulthandler in the sandbox prints its stack to the log
            time.sleep(0.3)
        except (ProcessLookupError, PermissionError):
            return ""
        frames = self._frames(self.log_path.read_text(errors="replace") if self.log_path.exists() else "")
        return f"\n  was running: {frames[0]}" if frames else ""

    def _frames(self, text: str) -> list[str]:
        """faulthandler's frames in the submission's files (innermost first), as the student knows the paths."""
        copy = str(self.folder / "sub")
        frames = re.findall(r'File "([^"]+)", line (\d+)', text)
        shown = [(path, int(line)) for path, line in frames if path.startswith(copy + os.sep)]
        return [f"{path.removeprefix(copy + os.sep)}:{line}: "  # as the student names it (docs/grading.md)
                f"{linecache.getline(path.replace(copy, self.original), line).strip()}" for path, line in shown]

    def _fault_text(self) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        if "Fatal Python error" not in text:
            return ""
        first = text[text.index("Fatal Python error"):].splitlines()[0].replace("Fatal Python error: ", "")
        frames = self._frames(text)
        return f": {first}" + (f"\n  at {frames[0]}" if frames else "")

    # -- the folder the sandbox sees
    def _prepare(self) -> dict:
        lib, sub = self.folder / "lib", self.folder / "sub"
        for name in ("lib", "sub", "work"):
            (self.folder / name).mkdir(mode=0o755)
        (lib / "nn_harness").mkdir()
        shutil.copy(PACKAGE / "__init__.py", lib / "nn_harness" / "__init__.py")
        shutil.copytree(PACKAGE / "sandbox", lib / "nn_harness" / "sandbox", ignore=shutil.ignore_patterns("__pycache__"))
        _copy_drivers(lib)
        source = submission_source(self.target)
        self.original = str(source.parent if source else Path(self.target).resolve().parent)
        target, self.not_copied = copy_submission(source, sub) if source else (self.target, [])
        shown = {str(sub): self.original}
        public = {str(sub) + os.sep: ""}  # in messages: its files as the student names them (layers.py, pkg/mod.py)
        mode = notebook.mode_for(self.target, self.notebook_cells)
        if source and mode:
            target, shown = self._convert(source, mode, sub), {str(sub / _generated(source)): str(source), **shown}
            public = {str(sub / _generated(source)): source.name, **public}
        api = self.api
        if api.endswith(".toml") and Path(api).is_file():  # the grader's own profile: the sandbox reads a copy
            course = self.folder / "profiles"
            course.mkdir(mode=0o755)
            for toml in Path(api).resolve().parent.glob("*.toml"):  # with the files it may extend
                shutil.copy(toml, course / toml.name)
            api, shown[str(course)] = str(course / Path(api).name), str(Path(api).resolve().parent)
            public[str(course) + os.sep] = ""
        numpy = Path(np.__file__).resolve().parent
        libraries = {"numpy": str(numpy)}
        if (numpy.parent / "numpy.libs").is_dir():
            libraries["numpy.libs"] = str(numpy.parent / "numpy.libs")
        libraries.update(packages.resolve(self.settings.allow).folders)
        imports = {"numpy_aliases": self.settings.numpy_aliases, "installed": packages.installed()}
        paths = sysconfig.get_paths()
        hide = sorted({os.path.join(paths["stdlib"], "site-packages"), paths["purelib"], paths["platlib"]})
        return {"root": str(self.folder), "target": str(target), "copy": str(sub), "shown": shown, "public": public, "api": api,
                "stdlib": paths["stdlib"], "libraries": libraries, "imports": imports, "hide": hide,
                "memory_mb": self.limits.memory_mb, "cpu_s": self.limits.cpu_s, "file_mb": self.limits.file_mb,
                "processes": self.limits.processes, "uid": UID_BASE + os.getpid() % 100_000}


    def _convert(self, source: Path, mode: str, sub: Path) -> Path:
        """A notebook becomes a generated module beside the copy; its trusted facts stay here, for the header."""
        self.converted = notebook.convert(source, mode)
        self.converted.remember()
        generated = sub / _generated(source)
        generated.write_text(self.converted.module_text())
        return generated


def _generated(source: Path) -> str:
    """The generated module's file name (never the student's own: `homework.ipynb` -> `homework_ipynb.py`)."""
    return f"{source.stem}_{source.suffix[1:]}.py"


def sandbox_of(obj: Any) -> Sandbox | None:
    """The sandbox where `obj` lives (a handle, a promise, or a method of either); None for an object of this
    process (the meta-tests')."""
    if isinstance(obj, RemoteMethod):
        obj = obj.owner
    return obj._sandbox if isinstance(obj, Remote | Promise) else None


def flush(obj: Any) -> None:
    """The deferred calls (RemoteMethod.later, promises) of the sandbox where `obj` lives, made now; nothing for an
    object of this process (its calls were made at once)."""
    sandbox = sandbox_of(obj)
    if sandbox is not None:
        sandbox.flush()


@contextlib.contextmanager
def pipelined(obj: Any, what: str) -> Iterator[None]:
    """Calls into the sandbox where `obj` lives, made inside, return promises sent with its next request (a failure
    names `what`); an object of this process is called at once. `resolved` gives the values."""
    sandbox = sandbox_of(obj)
    if sandbox is None:
        yield
    else:
        with sandbox.pipelined(what):
            yield


def resolved(value: Any) -> Any:
    """A promise's value (its request is sent now if it has not been); anything else as it is."""
    return value.value if isinstance(value, Promise) else value


def beside(obj: Any, service: str) -> Any:
    """The harness's sandbox-side module `service` (nn_harness/sandbox/__init__.py SERVICES) in the process where `obj`
    lives: through its sandbox for a handle or promise, imported here for an object of this process."""
    sandbox = sandbox_of(obj)
    return importlib.import_module(SERVICES[service]) if sandbox is None else sandbox.service(service)


def _hello(info: dict, uid: int | None) -> Hello:
    """The sandbox's report as plain, typed data (it is the submission's process: nothing it says is taken as is)."""
    header = info.get("header")
    return Hello(ok=info.get("ok") is True, origin=str(info.get("origin"))[:500],
                 error=None if info.get("error") is None else str(info["error"])[:4000],
                 header=[str(line)[:500] for line in header[:50]] if isinstance(header, list) else [],
                 style=str(info.get("style"))[:500], view=str(info.get("view"))[:1000], uid=uid,
                 skipped=_skipped(info.get("skipped")), aliases=_names(info.get("aliases")),
                 stand_ins=_stand_ins(info.get("stand_ins")), variants=_variants(info.get("variants")),
                 absent=_names(info.get("absent"), count=50, length=50))


def _names(value: Any, *, count: int = 10, length: int = 20) -> list[str]:
    """A few short names the sandbox reports (NumPy's aliases it restored, layers the submission lacks): the trusted
    side keeps only those it knows."""
    return [entry[:length] for entry in (value[:count] if isinstance(value, list) else []) if isinstance(entry, str)]


def _variants(value: Any) -> dict[str, str]:
    """The variants the sandbox says the submission's constructors have: short names (the trusted side keeps only
    those its profile declares)."""
    entries = list(value.items())[:50] if isinstance(value, dict) else []
    return {key[:50]: name[:50] for key, name in entries if isinstance(key, str) and isinstance(name, str)}


def _stand_ins(value: Any) -> list[list[str]]:
    """The stand-ins the sandbox says it made: [module, where, why] with short texts."""
    entries = value[:50] if isinstance(value, list) else []
    return [[text[:300] for text in entry] for entry in entries
            if isinstance(entry, list) and len(entry) == 3 and all(isinstance(text, str) for text in entry)]


def _skipped(value: Any) -> list[list]:
    """A notebook's failed statements as the sandbox reports them: [cell, line, error] with int, int, short text."""
    entries = value[:200] if isinstance(value, list) else []
    return [[entry[0], entry[1], str(entry[2])[:300]] for entry in entries
            if isinstance(entry, list) and len(entry) == 3 and type(entry[0]) is int and type(entry[1]) is int]


def _raised(error: dict, op: str) -> BaseException:
    message = error["message"]
    if error["kind"] == "check":
        return CheckFailure(message)
    if error["kind"] == "attribute" and op == "getattr":
        return AttributeError(message)
    frame = error.get("frame")
    where = None
    if isinstance(frame, list) and len(frame) == 3:
        where = f"{str(frame[0])[:300]}:{frame[1]}: {str(frame[2])[:300]}"
    return RaisedInSubmission(str(error["type"]), message, where)


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _uid_of(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


# ------------------------------------------------------------------------------------------ the submission's files

def submission_source(target: str) -> Path | None:
    """The file or package folder `target` names (a path, or a module name found on sys.path without importing
    it); None when there is none (the sandbox then reports the import error)."""
    path = Path(target)
    if path.suffix in (".py", ".ipynb") or path.is_dir():
        return path.resolve() if path.exists() else None
    parts = target.split(".")
    search = None
    for depth, name in enumerate(parts):
        spec = importlib.machinery.PathFinder.find_spec(name, search)
        if spec is None or spec.origin is None:
            return None
        origin = Path(spec.origin)
        if depth == len(parts) - 1:
            return origin.parent if origin.name == "__init__.py" else origin
        search = list(spec.submodule_search_locations or [])
    return None


def copy_submission(source: Path, into: Path) -> tuple[Path, list[str]]:
    """The submission as the sandbox imports it: a package folder, or a file with the whole folder it lies in
    (students split code over modules, packages, namespace packages and data files), within COPY_LIMIT bytes: the
    entry file always, then the Python files, then the rest, smallest first. (The copy's entry; the files left out,
    as the student names them.)"""
    top = source if source.is_dir() else source.parent
    base = into / source.name if source.is_dir() else into
    files, complete = _copyable(top)
    files.sort(key=lambda item: (item[0] != source, item[0].suffix != ".py", item[1], item[0]))
    budget, left_out = COPY_LIMIT, []
    for file, size in files:
        name = str(file.relative_to(top))
        if file != source and size > budget:
            left_out.append(name)
            continue
        budget -= size
        (base / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, base / name)
    if not complete:
        left_out.append(f"(the rest: the folder holds more than {COPY_ENTRIES} entries)")
    return into / source.name, left_out


def _copyable(top: Path) -> tuple[list[tuple[Path, int]], bool]:
    """The regular files under `top` a copy may take, with their sizes, and whether that is all of them (at most
    COPY_ENTRIES entries are looked at). Never the grader's own folders (a file given from the checkout), hidden ones
    (.git, .venv, .ipynb_checkpoints: not what the submission imports), a sandbox's own folder (this copy, or another
    submission's in the same temporary folder), nor a symbolic link (it could point anywhere on the grading machine)."""
    grader = {PROJECT / name for name in GRADERS}
    found, seen = [], 0
    for folder, dirs, names in os.walk(top):
        dirs[:] = sorted(name for name in dirs if _taken(Path(folder, name)) and Path(folder, name).resolve() not in grader)
        for name in sorted(names):
            info = os.lstat(Path(folder, name))
            if _taken(Path(folder, name)) and stat.S_ISREG(info.st_mode):
                found.append((Path(folder, name), info.st_size))
        seen += len(dirs) + len(names)
        if seen > COPY_ENTRIES:
            return found, False
    return found, True


def _taken(path: Path) -> bool:
    return not (path.name.startswith((".", "nn-sandbox-")) or path.name == "__pycache__" or path.is_symlink())


def _copy_drivers(lib: Path) -> None:
    """Drivers other packages register (nn_harness.drivers): their module and dist-info, beside the harness."""
    for point in entry_points(group="nn_harness.drivers"):
        dist = getattr(point, "dist", None)
        info = getattr(dist, "_path", None)
        spec = importlib.machinery.PathFinder.find_spec(point.module.split(".")[0])
        if info is None or spec is None or spec.origin is None:
            continue
        shutil.copytree(info, lib / Path(info).name, dirs_exist_ok=True)
        origin = Path(spec.origin)
        if origin.name == "__init__.py":
            shutil.copytree(origin.parent, lib / origin.parent.name, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(origin, lib / origin.name)
