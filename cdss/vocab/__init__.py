"""Vocabulary: the language intake and packs share (base models, ids, concepts, units)."""
