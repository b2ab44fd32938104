"""FashionNet Lab's model package: data, the lesson's net, one learner's steps, and what they changed.

Plain Python and PyTorch; it never imports Streamlit, so everything here is tested on its own.
Torch runs on one intra-op thread: the model is tiny, more threads only make learners' sessions
contend for the cores, and one thread keeps every step's arithmetic in the same order (so replayed
steps give the same bits).
"""

import torch

torch.set_num_threads(1)
