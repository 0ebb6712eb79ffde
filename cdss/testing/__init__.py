"""Testing kit for pack editors: case runner, hypothesis strategies, pytest plugin."""
