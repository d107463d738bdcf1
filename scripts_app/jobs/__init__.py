"""Jobs: their script versions, secrets (and masking them), deletion and the demo jobs."""
