"""The simulated hosts are what the multi-host tests assume: two host names, each resolving to
its own address on both hosts, reachable from each other, and no way out of the pair."""
import socket
import subprocess
import sys
import textwrap

PROBE = textwrap.dedent("""
    import socket, sys
    me, other = sys.argv[1:3]
    print(socket.gethostname(), socket.gethostbyname(me), socket.gethostbyname(other))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("8.8.8.8", 53))  # a route out would pick a source address here
        print("outside reachable")
    except OSError as e:
        print("no route out", e.errno)
""")


def run_on(host, argv, timeout=30):
    return subprocess.run(host.command(argv), capture_output=True, text=True, timeout=timeout)


def test_each_host_has_its_name_and_resolves_both(hosts):
    a, b = hosts
    for me, other in ((a, b), (b, a)):
        done = run_on(me, [sys.executable, "-c", PROBE, me.name, other.name])
        assert done.returncode == 0, done.stderr
        name, mine, theirs, *rest = done.stdout.split()
        assert (name, mine, theirs) == (me.name, me.address, other.address)
        assert " ".join(rest).startswith("no route out"), done.stdout


def test_the_hosts_reach_each_other_over_tcp(hosts):
    a, b = hosts
    server = subprocess.Popen(b.command([sys.executable, "-c", textwrap.dedent(f"""
        import socket
        s = socket.create_server(("{b.address}", 7777))
        print("ready", flush=True)
        conn, peer = s.accept()
        conn.sendall(peer[0].encode())
    """)]), stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "ready"
        done = run_on(a, [sys.executable, "-c",
                          f"import socket; print(socket.create_connection(('{b.name}', 7777), 5)"
                          f".recv(100).decode())"])
        assert done.stdout.strip() == a.address, done.stderr  # b saw a's address
    finally:
        server.kill()
        server.wait()


def test_the_root_namespace_has_no_part_of_the_link(hosts):
    a, b = hosts
    with open("/proc/net/dev") as f:
        names = {line.split(":")[0].strip() for line in f.readlines()[2:]}
    assert not any(n.startswith("sh") and n[2:-1].isdigit() for n in names), names
    assert socket.gethostname() not in (a.name, b.name)
