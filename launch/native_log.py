"""The runtime's fatal C++ log, said in one line.

When the coordination service fails (a peer died, the coordinator is gone), jaxlib's C++ code
logs in absl's format and aborts: an `E...` line, an `F...` line of several sentences, gRPC's
details on the following lines, then `*** Check failure stack trace: ***` and a dozen frames,
interleaved with the script's own traceback. What the user needs is which process ended and
why: `spmd: process 1 ended: the JAX distributed service detected fatal errors (UNAVAILABLE:
Failed to send RPC to coordination service; Socket closed). This most likely indicates that
another task died`. NativeLogCondenser turns the lines of one process's stderr into that.
"""
from __future__ import annotations

import re

_LOG_LINE = re.compile(rb"^([IWEF])\d{4} [\d:.]+\s+\d+ [^\]]+\] (.*)$")
_NOISE = (b"Polled an error from coordination service",)  # an F line follows with the cause
_DETAILS = (b"Additional GRPC error information", b":UNKNOWN:", b"{grpc_")
_GRPC_MESSAGE = re.compile(rb'grpc_message:"([^"]*)"')
_STACK = (b"*** Check failure stack trace: ***",)
_FRAME = re.compile(rb"^\s+@\s+0x[0-9a-f]+")
_STATUS = b"absl::Status: "


class NativeLogCondenser:
    """feed(line) -> the lines to write instead; close() -> what is still held back."""

    def __init__(self, rank):
        self.rank = rank
        self.fatal: bytes | None = None  # an F line's message, until its details are read
        self.details: list[bytes] = []

    def feed(self, line: bytes) -> list[bytes]:
        text = line.rstrip(b"\n")
        logged = _LOG_LINE.match(text)
        if logged and logged.group(1) == b"E" and logged.group(2).startswith(_NOISE):
            return []
        if logged and logged.group(1) == b"F":
            held = self.close()
            self.fatal = logged.group(2)
            return held
        if self.fatal is not None and (text.startswith(_DETAILS) or _GRPC_MESSAGE.search(text)):
            self.details.append(text)
            return []
        if text.startswith(_STACK) or _FRAME.match(text):
            return self.close()
        return self.close() + [line]

    def close(self) -> list[bytes]:
        if self.fatal is None:
            return []
        said = summary(self.rank, self.fatal, self.details)
        self.fatal, self.details = None, []
        return [said.encode() + b"\n"]


def summary(rank, message: bytes, details: list[bytes]) -> str:
    """One line from an F line's message and the gRPC details after it."""
    text = message.decode(errors="replace")
    text, _, status = text.partition(_STATUS.decode())
    sentences = [s.strip() for s in text.split(". ") if s.strip()]
    cause = sentences[0].removeprefix("Terminating process because ").rstrip(".")
    status = status.split(". ")[0].rstrip(".")
    grpc = [m.decode(errors="replace") for d in details for m in _GRPC_MESSAGE.findall(d)]
    why = "; ".join(filter(None, [status, *grpc]))
    hint = next((s.split(";")[0].rstrip(".") for s in sentences[1:]
                 if "another task died" in s), "")
    return (f"spmd: process {rank} ended: {cause}" + (f" ({why})" if why else "")
            + (f". {hint}" if hint else ""))
