"""Test-session settings: small torch models run fastest (and most reproducibly) on one CPU thread."""

import torch

torch.set_num_threads(1)
