"""Files in storage: the file API addressed by key, and serving stored files over HTTP."""
