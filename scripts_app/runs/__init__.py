"""Runs: recording, sending, their state machine, caps, retries and what follows a run's end."""
