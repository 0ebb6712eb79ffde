"""Vocabulary floor: how a long-lived process (the service, a batch worker, a benchmark) sets up Python's
cyclic garbage collector once its registry is loaded.

* `gc.freeze()` moves everything alive (the registry, compiled packs, memos) out of the collector's passes,
  which would otherwise walk its hundreds of thousands of objects every few evaluations (measured: about a
  third of the CPU of a 500-resource evaluation).
* A young-generation pass runs when this many more container objects have been made than freed. Python's
  default, 700, ran about 8 passes per 500-resource evaluation, ~5 % of its time, and found nothing: an
  evaluation is freed by reference counting alone (tests/regressions/test_evaluation_leaves_no_cycles.py).
  Objects that do form cycles (an exception and its traceback) are still collected, only less often.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000


def settle_long_lived() -> None:
    """Everything alive now lives as long as the process: freeze it, and collect young objects less often."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
