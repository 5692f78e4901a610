"""The sandbox server: imports the submission (after nn_harness/sandbox/imports.py has set up what its imports find),
adapts it to the contract, and answers the trusted side's requests.

Requests (nn_harness/sandbox/client.py sends them): getattr, setattr, call, callmethod, files, service, flush; any
of them may first carry deferred calls ("before": the trusted side's RemoteMethod.later and its promises), made in
order, each of which may name an earlier one's result ({"promise": k}: promise pipelining), as may the request. Every array the
server hands out or receives gets a handle, so both sides keep seeing the same live array: before each request
the trusted side sends what it wrote into shared arrays; after it, the server sends what changed here. Objects
that are not plain data stay here and are represented there by their handle.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import traceback
import types
from typing import Any

import numpy as np

from nn_harness.sandbox import SERVICES, adapters, imports, wire
from nn_harness.sandbox.loading import Implementation, load_implementation
from nn_harness.sandbox.student import CheckFailure


class Server:
    def __init__(self, copy: str, shown: dict[str, str], public: dict[str, str] | None = None) -> None:
        self.objects: dict[int, Any] = {}  # handle -> object (kept alive while the trusted side holds it)
        self.handles: dict[int, int] = {}  # id(object) -> handle
        self.last: dict[int, tuple] = {}  # array handle -> its fingerprint as the trusted side last saw it
        self.next = 1
        self.promised: list[Any] = []  # while a request runs: the results of its deferred calls, in order
        self.copy = copy  # the submission's copy, here
        self.paths = shown  # copy here -> where the grader knows it (the files it scans, the terminal's header)
        self.public = shown if public is None else public  # copy here -> as the student names it (messages)

    # -- handles
    def export(self, value: Any) -> int:
        handle = self.handles.get(id(value))
        if handle is None:
            handle, self.next = self.next, self.next + 1
            self.objects[handle], self.handles[id(value)] = value, handle
        return handle

    def release(self, handle: int) -> None:
        value = self.objects.pop(handle, None)
        if value is not None:
            self.handles.pop(id(value), None)
        self.last.pop(handle, None)

    def encode_other(self, value: Any, enc: wire.Encoder) -> Any:
        if isinstance(value, MethodOf):
            return {"method": value.handle, "name": value.name}
        if isinstance(value, np.ndarray) and value.dtype.str in wire.DTYPES:
            handle = self.export(value)
            self.last[handle] = wire.fingerprint(value)
            return wire.array_node(value, enc.blob, ref=handle)
        node = {"handle": self.export(value), "type": str(type(value).__name__)[:80], "callable": callable(value)}
        methods = methods_of(value)
        return {**node, "methods": methods} if methods else node

    def tagged(self, node: dict, blobs: list[bytes]) -> Any:
        if "method" in node:  # of a handle, or of a promise ({"promise": k})
            owner = node["method"] if type(node["method"]) is dict else {"handle": node["method"]}
            return getattr(self.tagged(owner, blobs), str(node.get("name")))
        if "promise" in node:  # the result of this request's earlier deferred call k
            index = node["promise"]
            if type(index) is not int or not 0 <= index < len(self.promised):
                raise wire.WireError(f"a promise {str(index)[:20]} of no earlier call")
            return self.promised[index]
        if "handle" in node:
            if node["handle"] not in self.objects:
                raise wire.WireError(f"handle {node['handle']} was released")
            return self.objects[node["handle"]]
        if "array" in node:
            array = wire.node_array(node, blobs)
            if node.get("ref") is None:
                array.flags.writeable = False  # a constant (a data set): nobody sees a change to it
                return array
            self.objects[node["ref"]], self.handles[id(array)] = array, node["ref"]
            self.last[node["ref"]] = wire.fingerprint(array)
            return array
        raise wire.WireError(f"unknown value {sorted(node)}")

    # -- requests
    def handle(self, header: dict, blobs: list[bytes]) -> tuple[dict, list[bytes]]:
        enc = wire.Encoder(self.encode_other)
        deferred = None  # the index of the deferred call running (client.Deferred), while one is
        try:
            for handle, node in header.get("writes", []):
                target = self.objects.get(handle)
                if not isinstance(target, np.ndarray):
                    raise wire.WireError(f"a write to handle {handle}, which is no array here")
                target[...] = wire.node_array(node, blobs)
                self.last[handle] = wire.fingerprint(target)
            for handle in header.get("release", []):  # after the writes: the last thing the trusted side did to it
                self.release(handle)
            before = header.get("before", {"list": []})
            if type(before) is not dict or type(before.get("list")) is not list:
                raise wire.WireError("deferred calls that are not a list")
            self.promised, results = [], []
            for index, call in enumerate(before["list"]):  # in order, before the request itself; each may name
                deferred = index  # from here, a failure is this call's (its method missing too)
                decoded = wire.decode(call, blobs, lambda n: self.tagged(n, blobs))  # results of those before
                if type(decoded) is not list or len(decoded) != 4 or type(decoded[1]) is not list \
                        or type(decoded[2]) is not dict:
                    raise wire.WireError("a deferred call that is not [function, arguments, keywords, wanted]")
                fn, positional, keywords, want = decoded
                self.promised.append(fn(*positional, **keywords))
                results.append(enc(self.promised[-1]) if want is True else None)  # as it was then: a later call
            deferred = None                                                          # may change it in place
            args = wire.decode(header.get("args", []), blobs, lambda n: self.tagged(n, blobs))
            reply = {"ok": enc(self.dispatch(str(header.get("op")), *args)), "results": results}
        except BaseException as error:  # noqa: BLE001 - whatever the submission raises is the trusted side's verdict
            if isinstance(error, wire.WireError):  # ours, not the submission's: no deferred call of its to name
                error, deferred = RuntimeError(f"the request could not be read: {error}"), None
            enc = wire.Encoder(self.encode_other)
            reply = {"error": self.error(error), **({} if deferred is None else {"before": deferred})}
        finally:
            self.promised = []  # results not asked for are not kept alive here
        reply["updates"] = self.updates(enc)
        reply["blobs"] = enc.lengths
        return reply, enc.blobs

    def dispatch(self, op: str, *args: Any) -> Any:
        if op == "getattr":
            target, name = args
            value = getattr(target, name)
            if inspect.ismethod(value) and value.__self__ is target:
                return MethodOf(self.export(target), name)
            return value
        if op == "setattr":
            setattr(*args)
            return None
        if op == "call":
            fn, positional, keywords = args
            return fn(*positional, **keywords)
        if op == "callmethod":
            target, name, positional, keywords = args
            return getattr(target, name)(*positional, **keywords)
        if op == "flush":  # nothing but the deferred calls before it
            return None
        if op == "files":
            return self.loaded_files()
        if op == "service":
            return importlib.import_module(SERVICES[args[0]])
        raise ValueError(f"unknown request {op!r}")

    def updates(self, enc: wire.Encoder) -> list[list[int]]:
        """Every shared array whose bytes changed since the trusted side last saw them."""
        changed = []
        for handle, last in list(self.last.items()):
            array = self.objects.get(handle)
            if not isinstance(array, np.ndarray):
                continue
            now = wire.fingerprint(array)
            if now != last:
                self.last[handle] = now
                changed.append([handle, wire.array_node(array, enc.blob)])
        return changed

    def error(self, error: BaseException) -> dict:
        frames = traceback.extract_tb(error.__traceback__)
        theirs = [f for f in frames if f.filename.startswith(self.copy)]
        frame = (theirs or frames or [None])[-1]
        where = [self.shown(frame.filename, public=True), frame.lineno, frame.line] if frame else None
        kind = "check" if isinstance(error, CheckFailure) else "attribute" if isinstance(error, AttributeError) \
            else "raised"
        return {"kind": kind, "type": type(error).__name__[:80], "message": self.shown(str(error), public=True)[:4000],
                "frame": where}

    def shown(self, text: str, *, public: bool = False) -> str:
        """Paths as the grader knows them, or (`public`: in what students see) as the student names them; the
        sandbox reads copies."""
        for copy, original in (self.public if public else self.paths).items():
            text = text.replace(copy, original)
        return text

    def loaded_files(self) -> list[str]:
        files = {getattr(m, "__file__", None) for m in list(sys.modules.values())}
        return sorted(self.shown(f) for f in files if isinstance(f, str) and f.startswith(self.copy))


def methods_of(value: Any) -> list[str]:
    """The methods `value` has from its class (functions its class defines, not shadowed by the instance), so the
    trusted side calls them in one request (callmethod) without looking each up first."""
    own = getattr(value, "__dict__", None)
    own = own if isinstance(own, dict) else {}
    names = _class_methods(type(value))
    return [name for name in names if name not in own]


_CLASS_METHODS: dict[type, list[str]] = {}


def _class_methods(cls: type) -> list[str]:
    if cls not in _CLASS_METHODS:
        names = {name for klass in cls.__mro__[:-1] for name, attr in vars(klass).items()
                 if isinstance(attr, types.FunctionType) and not name.startswith("__")}
        _CLASS_METHODS[cls] = sorted(name for name in names if len(name) <= 80)[:100]
    return _CLASS_METHODS[cls]


class MethodOf:
    """A bound method of a handed-out object: the trusted side calls it in one request (callmethod)."""

    def __init__(self, handle: int, name: str) -> None:
        self.handle, self.name = handle, name


def hello(config: dict, server: Server, view: str) -> tuple[Any, dict]:
    """Import and adapt the submission; (the namespace, what the trusted side's header and verdicts need)."""
    impl = load_implementation(config["target"])
    try:
        refused = imports.written_in(impl.module) if impl.module is not None else imports.called_at_import(impl.error or "")
    except Exception:  # noqa: BLE001 - the submission's objects misbehave when inspected: it is graded as it is
        refused = None
    if refused:  # its layers are a framework's, not a NumPy port: one line, not a failure per check
        impl = Implementation(impl.target, None, refused)
    info = {"ok": impl.module is not None, "origin": server.shown(impl.origin), "view": view,
            "error": server.shown(impl.error, public=True) if impl.error else None,
            "skipped": getattr(impl.module, "__notebook_skipped__", None)}  # a notebook's (nn_harness/sandbox/cells.py)
    try:
        resolved = adapters.resolve(impl, config["api"])
        info["header"] = [server.shown(line, public=True) for line in adapters.describe(impl, config["api"], resolved)]
        info["style"] = resolved[0].name if config["api"] == "auto" else config["api"]
        info["variants"] = adapters.variants_of(impl, resolved[0])
        info["absent"] = adapters.absent_of(impl, resolved[0])
        adapted = adapters.adapt(impl, info["style"] if config["api"] == "auto" else config["api"]) \
            if impl.module is not None else impl
    except Exception as error:  # noqa: BLE001 - the profile does not fit: every check says so
        info["header"] = [server.shown(f"api: {config['api']} ({type(error).__name__}: {error})", public=True)]
        info["style"] = "native" if config["api"] == "auto" else config["api"]
        adapted = Implementation(impl.target, None, server.shown(f"the {config['api']} profile could not be applied: "
                                                                 f"{error}", public=True))
        info["ok"], info["error"] = False, adapted.error
    return adapted.module, info


def serve(config: dict, view: str) -> None:
    """Report on the import (the hello), then answer requests until the trusted side closes the channel."""
    server = Server(config["copy"], config["shown"], config.get("public"))
    aliases, stand_ins = imports.install(config["imports"], config["copy"])
    module, info = hello(config, server, view)
    info["aliases"] = aliases
    info["stand_ins"] = [[name, server.shown(f"{file}:{line}", public=True), imports.absence(name, stand_ins.installed)[0]]
                         for name, file, line in stand_ins.made]
    enc = wire.Encoder(server.encode_other)
    info["root"] = enc(module) if module is not None else None
    requests, replies = config["fds"]
    wire.write_frame(replies, {"hello": info, "blobs": enc.lengths}, enc.blobs)
    while True:
        try:
            header, blobs = wire.read_frame(requests, limit=1 << 34)
        except EOFError:
            os._exit(0)
        reply, out = server.handle(header, blobs)
        wire.write_frame(replies, reply, out)
