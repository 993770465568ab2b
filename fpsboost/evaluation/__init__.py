"""Measuring fpsboost: one package behind ``fpsboost bench``.

* :mod:`.metrics` — PSNR, SSIM, MS-SSIM, FLIP and the oracle blend.
* :mod:`.test_sets` — the held-out synthetic pairs and real clips.
* :mod:`.baselines` — the methods compared: the network, DIS flow, minterpolate, blend, duplicate.
* :mod:`.quality` — the quality table (``fpsboost bench quality``).
* :mod:`.speed` — speed and memory beside the anchors (``fpsboost bench``).
* :mod:`.experiments` — every other recorded experiment (``fpsboost bench EXPERIMENT``).
* :mod:`.report` — how a run is recorded: commit, machine, command, JSON and Markdown.

``benchmarks/`` keeps what the runs recorded, each table beside the command that made it.
"""
