"""Plain-data wire format between the grader and a sandboxed candidate, and the candidate's side.

Values cross as tagged JSON: None, bool, int, float (exact, with inf/nan/-0.0), complex, str,
bytes, list, tuple, set, frozenset and dict (any plain keys). Anything else is sent as an opaque
marker that equals nothing but itself. The grader decodes only these tags, so no object of the
candidate's (no custom __eq__, no subclass) ever reaches the test code.

Frames are a 4-byte big-endian length and UTF-8 JSON. This module is standard library only: its
source is also run inside the sandbox (with `serve(...)` appended) as the candidate's driver.
"""

import base64
import builtins
import json
import os
import struct

HEADER = struct.Struct(">I")


class Opaque:
    """A candidate value that is not plain data (a generator, a custom object): equal only to
    itself, and without a truth value (`assert candidate(x)` does not pass on it)."""

    def __init__(self, type_name):
        self.type_name = type_name

    def __bool__(self):
        raise TypeError(f"a {self.type_name} from the candidate has no truth value here")

    def __repr__(self):
        return f"<{self.type_name} from the candidate>"


_SEQUENCES = ((list, "L"), (tuple, "T"), (set, "E"), (frozenset, "Z"))


def encode(value, strict=False):
    """The JSON-able tagged form of `value`: an Opaque marker for what is not plain data, or
    TypeError when `strict` (the grader's test arguments must be plain data)."""
    if value is None:
        return ["N"]
    if isinstance(value, bool):
        return ["B", bool(value)]
    if isinstance(value, int):
        return ["I", format(int.__index__(value), "x")]  # hex: no int-to-str digit limit
    if isinstance(value, float):
        return ["F", float.hex(float(value))]
    if isinstance(value, complex):
        return ["C", float.hex(value.real), float.hex(value.imag)]
    if isinstance(value, str):
        return ["S", str.__str__(value)]
    if isinstance(value, (bytes, bytearray)):
        return ["Y", base64.b64encode(bytes(value)).decode("ascii")]
    if isinstance(value, dict):
        return ["D", [[encode(k, strict), encode(v, strict)] for k, v in dict.items(value)]]
    for kind, tag in _SEQUENCES:
        if isinstance(value, kind):
            return [tag, [encode(v, strict) for v in value]]
    if strict:
        raise TypeError(f"a {type(value).__name__} cannot be sent to the sandbox (plain data only)")
    return ["O", type(value).__name__[:100]]


def decode(data):
    """The Python value of a tagged form; ValueError for anything that is not one."""
    if not isinstance(data, list) or not data or not isinstance(data[0], str):
        raise ValueError("not a tagged value")
    tag, args = data[0], data[1:]
    if tag == "N" and not args:
        return None
    if len(args) == 1 or tag == "C":
        arg = args[0] if args else None
        if tag == "B" and isinstance(arg, bool):
            return arg
        if tag == "I" and isinstance(arg, str) and len(arg) <= 1 << 16:  # up to 262,144 bits
            return int(arg, 16)
        if tag == "F" and isinstance(arg, str):
            return float.fromhex(arg)
        if tag == "C" and len(args) == 2 and all(isinstance(a, str) for a in args):
            return complex(float.fromhex(args[0]), float.fromhex(args[1]))
        if tag == "S" and isinstance(arg, str):
            return arg
        if tag == "Y" and isinstance(arg, str):
            return base64.b64decode(arg, validate=True)
        if tag == "O" and isinstance(arg, str):
            return Opaque(arg)
        if isinstance(arg, list):
            if tag == "D" and all(isinstance(p, list) and len(p) == 2 for p in arg):
                return {decode(k): decode(v) for k, v in arg}
            for kind, t in _SEQUENCES:
                if tag == t:
                    return kind(decode(v) for v in arg)
    raise ValueError(f"bad tagged value {tag[:20]!r}")


def dumps(message):
    """One frame: length header + JSON (ASCII, so lone surrogates survive)."""
    body = json.dumps(message, ensure_ascii=True, allow_nan=False).encode("ascii")
    return HEADER.pack(len(body)) + body


def loads(body):
    """The message of a frame body; ValueError when it is not JSON."""
    try:
        return json.loads(body.decode("ascii"))
    except (UnicodeDecodeError, RecursionError) as e:
        raise ValueError(str(e)) from None


def exception_class(type_name):
    """The builtin exception class named `type_name`, else Exception (never SystemExit & co.)."""
    cls = getattr(builtins, str(type_name), None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        return cls
    return Exception


# ---- the candidate's side: runs inside the sandbox ------------------------------------------------


def _read_exact(fd, n):
    chunks = []
    while n:
        chunk = os.read(fd, n)
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _recv(fd):
    head = _read_exact(fd, HEADER.size)
    if head is None:
        return None
    return loads(_read_exact(fd, HEADER.unpack(head)[0]) or b"")


def _send(fd, message):
    data = dumps(message)
    while data:
        data = data[os.write(fd, data):]


def _describe(exc):
    return [type(exc).__name__, str(exc)[:2000]]


def serve(in_fd, out_fd):
    """Load the candidate's code, then answer calls of its entry point until the grader hangs up.

    A SystemExit of the candidate's ends the process (the grader sees it left early)."""
    _, code, entry = _recv(in_fd)
    namespace = {"__name__": "candidate", "__builtins__": builtins}
    try:
        exec(compile(code, "<candidate>", "exec"), namespace)
        function = namespace[entry]
    except KeyError:
        _send(out_fd, ["error", "NameError", f"{entry} is not defined"])
        return
    except Exception as e:
        _send(out_fd, ["error"] + _describe(e))
        return
    _send(out_fd, ["ready"])
    while True:
        message = _recv(in_fd)
        if message is None:
            return
        args = decode(message[1])
        kwargs = dict(decode(message[2]))
        try:
            result = ["ok", encode(function(*args, **kwargs))]
        except Exception as e:
            result = ["raise"] + _describe(e)
        try:
            frame = dumps(result)
        except (ValueError, RecursionError) as e:  # e.g. a list nested deeper than JSON allows
            frame = dumps(["raise"] + _describe(e))
        while frame:
            frame = frame[os.write(out_fd, frame):]
