"""spmd.sharding (JAX's jax.sharding): meshes of devices with named axes and the shardings
that lay arrays out over them. `jit` compiles a function once for a mesh when its arguments
carry NamedShardings (or in_shardings/out_shardings name them): XLA's partitioner splits it."""
from spmd.transforms.mesh import AxisType, Mesh, get_mesh, make_mesh, set_mesh, use_mesh  # noqa: F401
from spmd.transforms.named_sharding import (NamedSharding, Sharding,  # noqa: F401
                                            SingleDeviceSharding)
from spmd.transforms.partition_spec import PartitionSpec  # noqa: F401
from spmd.transforms.array import Shard  # noqa: F401
from spmd.transforms.lax.sharding_constraint import (reshard,  # noqa: F401
                                                     with_sharding_constraint)


def make_single_device_sharding(device) -> SingleDeviceSharding:
    return SingleDeviceSharding(device)
