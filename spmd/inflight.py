"""The bound on executions in flight lives in transforms/inflight.py (jit over a mesh, in the
transforms layer, needs it too); this name stays for pmap's callers."""
from spmd.transforms.inflight import launch, wait_all  # noqa: F401
