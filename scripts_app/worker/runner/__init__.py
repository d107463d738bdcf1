"""Running one script in a subprocess: spawning, streaming, limits, killing."""
