"""Engine: packs + patient facts -> suggestions with a trace; facts are matched by durable-rules behind a port."""
