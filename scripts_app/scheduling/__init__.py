"""The scheduler process: the tick's steps (fire due jobs, re-send, reap, retention) and its loop."""
