"""FashionNet Lab's model package: data, the lesson's net, one learner's steps, and what they changed.

Plain Python and PyTorch; it never imports Streamlit, so everything here is tested on its own.
Torch runs on one intra-op thread: the model is tiny, more threads only make learners' sessions
contend for the cores, and one thread keeps every step's arithmetic in the same order (so replayed
steps give the same bits).

Building an optimizer does not import ``torch._dynamo``: torch wraps ``Optimizer.add_param_group``
(and ``zero_grad``, ``state_dict``, ``load_state_dict``) in ``torch._disable_dynamo``, which imports
``torch._dynamo`` (with sympy and triton: ~1 s and ~150 MB) on the first call only to tell the
compiler not to trace them. Nothing here is ever compiled, so those calls go straight to the method,
and a learner can be built (the Predict page) without it. Its first optimizer *step* still imports
``torch._dynamo`` (``torch.optim``'s step wrapper does so itself); ``ui/warmup.py`` does that in the
background once the first page is drawn. ``_direct_optimizer_setup`` does this through the attribute
``_disable_dynamo`` itself caches (``fn.__dynamo_disable``); if torch changes it, nothing breaks and
``tests/test_startup.py`` says so.
"""

import torch

torch.set_num_threads(1)

OPTIMIZER_SETUP_METHODS = ("add_param_group", "zero_grad", "state_dict", "load_state_dict")


def _direct_optimizer_setup() -> None:
    for name in OPTIMIZER_SETUP_METHODS:
        method = getattr(torch.optim.Optimizer, name, None)
        plain = getattr(method, "__wrapped__", None)  # the method as written, under torch._disable_dynamo's wrapper
        if plain is not None and getattr(plain, "__dynamo_disable", None) is None:
            # The wrapper calls fn.__dynamo_disable when set, else imports torch._dynamo to make and cache it.
            setattr(plain, "__dynamo_disable", plain)


_direct_optimizer_setup()
