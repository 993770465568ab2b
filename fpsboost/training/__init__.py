"""Training: the interpolation network (:mod:`.interpolator`) and the extrapolation network
(:mod:`.extrapolator`), with what both share (:mod:`.common`) and their settings (:mod:`.settings`).
Both are seeded and resumable; ``fpsboost train`` and ``fpsboost train-extrapolator`` run them."""
