"""One process of a job started by a launcher: joins the job with no arguments and checks
what it sees against what the test asked for (argv: processes, devices per process)."""
import sys

import numpy as np

import spmd
from spmd.cluster import netns
from listening import listening_addresses

expected_processes, expected_local = int(sys.argv[1]), int(sys.argv[2])
spmd.distributed.initialize()
me, n = spmd.process_index(), spmd.process_count()
assert n == expected_processes, (n, expected_processes)
local, everyone = spmd.local_devices(), spmd.devices()
assert len(local) == expected_local and len(everyone) == n * expected_local, (local, everyone)
assert [d.process_index for d in everyone] == sorted(d.process_index for d in everyone)
assert {d.process_index for d in local} == {me}
assert sorted({d.process_index for d in everyone}) == list(range(n))
ranks = spmd.distributed.process_allgather(np.int32(me))
np.testing.assert_array_equal(ranks, np.arange(n, dtype=np.int32))
total = spmd.numpy.arange(4.0).sum()  # the backend computes on this process's devices
assert float(total) == 6.0, total
outside = [a for a in listening_addresses() if not a.startswith(("127.", "::1", "::ffff:127."))]
assert not outside, f"listening outside loopback: {outside}"
print(f"process {me} of {n}: {len(everyone)} devices, {len(local)} local, "
      f"gathered {ranks.tolist()}, interfaces {netns.interfaces()}", flush=True)
print(f"stderr of process {me}", file=sys.stderr, flush=True)
