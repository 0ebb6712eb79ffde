import gc

from cdss.vocab.collector import YOUNG_THRESHOLD, settle_long_lived


def test_settling_freezes_what_is_alive_and_collects_young_objects_less_often():
    threshold = gc.get_threshold()
    try:
        kept = [object() for _ in range(3)]  # (alive now: long-lived from here on)
        settle_long_lived()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (YOUNG_THRESHOLD, threshold[1], threshold[2])
        assert kept
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
