"""FashionNet Lab's model package: data, the lesson's net, one learner's steps, and what they changed.

Plain Python and PyTorch; it never imports Streamlit, so everything here is tested on its own.
Torch runs on one intra-op thread: the model is tiny, more threads only make learners' sessions
contend for the cores, and one thread keeps every step's arithmetic in the same order (so replayed
steps give the same bits).

Nothing here imports ``torch._dynamo`` (the compiler's front end: with sympy and triton ~1 s and
~150 MB per process, a sixth of a server's memory), as nothing here is compiled. torch imports it
lazily only to tell the compiler what not to trace: ``Optimizer.add_param_group`` (and ``zero_grad``,
``state_dict``, ``load_state_dict``) are wrapped in ``torch._disable_dynamo``, which imports it on the
first call to build and cache the disabled function in ``fn.__dynamo_disable``; and the ``step`` of
Adam and SGD is wrapped in ``_use_grad_for_differentiable``, which imports it on every call to put a
``torch._dynamo.graph_break()`` (a no-op outside compilation) around setting the grad mode.
:func:`_without_dynamo` fills that cache with the method itself and gives Adam and SGD a ``step``
wrapper that sets the grad mode exactly as torch's does, without the graph breaks. The arithmetic is
untouched (``tests/test_startup.py`` compares the optimizers' states after some steps with a process
that never imported this package, and checks that ``torch._dynamo`` stays out). When torch's wrappers
are not what is expected here (another torch version), they are left as they are.
"""

import functools

import torch

torch.set_num_threads(1)

OPTIMIZER_SETUP_METHODS = ("add_param_group", "zero_grad", "state_dict", "load_state_dict")
OPTIMIZERS = (torch.optim.Adam, torch.optim.SGD)  # those fashionnet.settings.OPTIMIZERS offers


def _without_dynamo() -> None:
    for name in OPTIMIZER_SETUP_METHODS:
        method = getattr(torch.optim.Optimizer, name, None)
        plain = getattr(method, "__wrapped__", None)  # the method as written, under torch._disable_dynamo's wrapper
        if plain is not None and getattr(plain, "__dynamo_disable", None) is None:
            # The wrapper calls fn.__dynamo_disable when set, else imports torch._dynamo to make and cache it.
            setattr(plain, "__dynamo_disable", plain)
    for cls in OPTIMIZERS:
        step = cls.__dict__.get("step")
        plain = getattr(step, "__wrapped__", None)
        if plain is None or getattr(step, "__code__", None) is None or step.__code__.co_name != "_use_grad":
            continue  # not torch.optim.optimizer._use_grad_for_differentiable's wrapper (or hooked already)
        cls.step = _grad_mode_step(plain)


def _grad_mode_step(plain):
    """torch.optim.optimizer._use_grad_for_differentiable's wrapper, without its torch._dynamo.graph_break() calls."""

    @functools.wraps(plain)
    def step(self, *args, **kwargs):
        prev_grad = torch.is_grad_enabled()
        try:
            torch.set_grad_enabled(self.defaults["differentiable"])
            return plain(self, *args, **kwargs)
        finally:
            torch.set_grad_enabled(prev_grad)

    return step


_without_dynamo()
