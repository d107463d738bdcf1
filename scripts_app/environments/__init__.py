"""Per-script environments: declared (metadata), locked at upload (locking), built and
cached by workers (cache, runs), with the script-side modules copied in (overlay)."""
