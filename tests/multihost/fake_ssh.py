"""A stand-in for ssh that reaches the simulated hosts: `fake_ssh.py [ssh options] HOST COMMAND...`.

It runs `sh -c COMMAND` on the host named HOST (by name or address; a `user@` is dropped) through
the host's `command()`, as sshd would: in a session of its own, with the command's stdin a pipe
that ends when this process ends (so a remote process learns of a dead ssh as it would over a
closed connection), stdout/stderr forwarded, and the command's exit status as its own.
The hosts come from $SPMD_FAKE_SSH_HOSTS: `name=namespace=address` entries joined by commas
(`hosts_variable` writes it). Each call is logged to $SPMD_FAKE_SSH_LOG, when set."""
from __future__ import annotations

import os
import subprocess
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from simulated_hosts import Host  # noqa: E402

HOSTS = "SPMD_FAKE_SSH_HOSTS"
LOG = "SPMD_FAKE_SSH_LOG"
# ssh's options that take a value (OpenSSH 9); the others are flags
_WITH_VALUE = set("BbcDEeFIiJLlmOoPpQRSWw")


def hosts_variable(hosts) -> str:
    return ",".join(f"{h.name}={h.namespace}={h.address}" for h in hosts)


def split_arguments(argv: list[str]) -> tuple[list[str], str, str]:
    """(options, host, command) from ssh's arguments."""
    i = 0
    while i < len(argv) and argv[i].startswith("-") and argv[i] != "--":
        word = argv[i]
        # -p 22 takes the next word; -p22, -oX=y and flag bundles (-tt, -xq) do not
        takes_next = word[1] in _WITH_VALUE and len(word) == 2
        i += 2 if takes_next else 1
    if i < len(argv) and argv[i] == "--":
        i += 1
    if i >= len(argv):
        raise SystemExit("fake_ssh: no host given")
    return argv[:i], argv[i].rpartition("@")[2], " ".join(argv[i + 1:])


def find_host(name: str) -> Host:
    for entry in filter(None, os.environ.get(HOSTS, "").split(",")):
        host = Host(*entry.split("="))
        if name in (host.name, host.address):
            return host
    # as ssh says it, with its exit status for a failed connection
    print(f"ssh: Could not resolve hostname {name}: Name or service not known", file=sys.stderr)
    sys.exit(255)


def _forward_stdin(pipe) -> None:
    try:
        for chunk in iter(lambda: os.read(0, 65536), b""):
            pipe.write(chunk)
            pipe.flush()
    except OSError:
        pass
    finally:
        try:
            pipe.close()
        except OSError:
            pass


def main(argv: list[str]) -> int:
    options, name, command = split_arguments(argv)
    if os.environ.get(LOG):
        with open(os.environ[LOG], "a") as f:
            f.write(f"{' '.join(options)} | {name} | {command}\n")
    host = find_host(name)
    proc = subprocess.Popen(host.command(["sh", "-c", command]), stdin=subprocess.PIPE,
                            start_new_session=True)
    threading.Thread(target=_forward_stdin, args=(proc.stdin,), daemon=True).start()
    code = proc.wait()
    return 255 if code < 0 else code  # ssh reports a remote death by signal as 255


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
