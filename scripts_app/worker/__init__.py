"""Worker-only code: the actor, its middleware and carrying out one run.

Keep this file free of imports: the fork server (runner/forkserver.py) imports the
package in a bare interpreter.
"""
