"""spmd.optim: optimizers as pure `init` / `update` functions over pytrees, in the optax style.

    opt = spmd.optim.chain(spmd.optim.clip_by_global_norm(1.0), spmd.optim.adam(1e-3))
    state = opt.init(params)
    updates, state = opt.update(grads, state, params)
    params = spmd.optim.apply_updates(params, updates)

Every function is jit-, vmap- and pmap-friendly: no Python branch on a value, states are
pytrees of arrays. A learning rate is a number or a schedule `step -> learning rate`."""
from spmd.optim.aliases import adam, adamw, momentum, sgd  # noqa: F401
from spmd.optim.base import (EmptyState, GradientTransformation, apply_updates, chain,  # noqa: F401
                             identity)
from spmd.optim.schedules import (constant_schedule, cosine_decay_schedule,  # noqa: F401
                                  exponential_decay, linear_schedule)
from spmd.optim.transformations import (ScaleByAdamState, ScaleByScheduleState,  # noqa: F401
                                        TraceState, add_decayed_weights, clip_by_global_norm,
                                        global_norm, scale, scale_by_adam,
                                        scale_by_learning_rate, scale_by_schedule, trace)
