"""spmd: a distributed SPMD runtime centred on pmap, in the model of JAX.

`import spmd as jax; import spmd.numpy as jnp` ports the core of a JAX program."""
from spmd.missing_names import module_getattr as _module_getattr
from spmd.transforms.api import (grad, jvp, linearize, make_jaxpr, value_and_grad, vjp,  # noqa: F401
                                 vmap)
from spmd.transforms.config import config  # noqa: F401
from spmd.transforms.jit import disable_jit, jit  # noqa: F401
from spmd.transforms.scopes import ensure_compile_time_eval, named_scope  # noqa: F401
from spmd.transforms.shapes import ShapeDtypeStruct, eval_shape  # noqa: F401
from spmd.transforms.caches import clear_caches  # noqa: F401
from spmd.pmap import pmap  # noqa: F401
from spmd.devices import (device_count, device_put_replicated, device_put_sharded,  # noqa: F401
                          devices, local_device_count, local_devices, process_count,
                          process_index)
from spmd.transforms.custom_derivatives import custom_jvp, custom_vjp  # noqa: F401
from spmd.transfers import (block_until_ready, copy_to_host_async, device_get,  # noqa: F401
                            device_put)
from spmd.transforms.jacobians import hessian, jacfwd, jacobian, jacrev  # noqa: F401
from spmd.transforms.remat import checkpoint_policies, remat  # noqa: F401
from spmd.transforms.lax.dot import default_matmul_precision  # noqa: F401

import spmd.transforms as _transforms  # noqa: F401  (declares primitives, installs the executor)
from spmd import numpy  # noqa: F401  (installs the array operators)
from spmd import checkpoints, data, optim  # noqa: F401,E402
from spmd import random  # noqa: F401
from spmd.array_type import Array  # noqa: F401
from spmd.random.impls import default_prng_impl  # noqa: F401
from spmd import lax  # noqa: F401
from spmd import image, nn, scipy  # noqa: F401
from spmd import distributed  # noqa: F401
from spmd import debug, dtypes, flatten_util, test_util, tree, tree_util  # noqa: F401
from spmd.callbacks import pure_callback  # noqa: F401
from spmd import sharding  # noqa: F401
from spmd.sharding import NamedSharding, make_mesh, reshard, set_mesh  # noqa: F401
from spmd.make_array import (make_array_from_callback,  # noqa: F401
                             make_array_from_process_local_data,
                             make_array_from_single_device_arrays)
from spmd import mesh_processes  # noqa: F401  (a jit over a mesh across processes: their checks)
from spmd.transforms.partition_spec import P  # noqa: F401
from spmd.shard_map import shard_map  # noqa: F401,E402
from spmd import experimental  # noqa: F401,E402
from spmd import errors, stages  # noqa: F401,E402
from spmd.environment import (default_backend, host_count, host_id, host_ids,  # noqa: F401,E402
                              named_call, print_environment_info, process_indices, typeof)
from spmd.config_states import (allow_f16_reductions, check_tracer_leaks,  # noqa: F401,E402
                                checking_leaks, debug_infs, debug_nans, default_device,
                                enable_checks, enable_custom_prng, enable_x64,
                                explain_cache_misses, legacy_prng_key, log_compiles,
                                numpy_dtype_promotion, numpy_rank_promotion,
                                softmax_custom_jvp, threefry_partitionable, transfer_guard,
                                transfer_guard_device_to_device, transfer_guard_device_to_host,
                                transfer_guard_host_to_device)
from spmd.arrays_on_devices import Device, Shard, effects_barrier, live_arrays  # noqa: F401,E402
from spmd import custom_derivatives, dlpack, typing  # noqa: F401,E402
from spmd.transforms.closure_rules import closure_convert, custom_gradient  # noqa: F401,E402
from spmd.transforms.linear_transpose import linear_transpose  # noqa: F401,E402
from spmd.transforms.dtypes import float0  # noqa: F401,E402
from spmd import custom_batching  # noqa: F401,E402


checkpoint = remat  # jax.checkpoint; saving training state is spmd.checkpoints

__version__ = "0.1.0"


__getattr__ = _module_getattr("spmd", "jax")
