"""Engine: packs + patient facts -> suggestions with a trace, on durable-rules."""
