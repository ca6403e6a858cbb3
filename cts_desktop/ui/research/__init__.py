"""The research windows (Tools > Optimize...).

* :mod:`.window`: :class:`OptimizeWindow`, the panel (settings, run bar, results, exports);
* :mod:`.space`: the search settings (parameter ranges, method, objective, constraints);
* :mod:`.trials`: the trials table model and the two-parameter heatmap;
* :mod:`.results`: the study's tabs (trials, heatmap, best trial, stored studies).

The search, its storage and every message are the optimize service's
(:mod:`cts_desktop.services.optimize`); the study runs in a child process
(:mod:`cts_desktop.services.research_job`).
"""
from .window import OptimizeWindow

__all__ = ["OptimizeWindow"]
