"""Where django_dramatiq finds Parseq's actor.

``manage.py rundramatiq`` imports the ``tasks`` module of every installed app (its
default ``DRAMATIQ_AUTODISCOVER_MODULES``), so this module makes the worker declare
the actor in any host project without extra settings. It is the only importer of
``scripts_app.worker.actor``; Parseq's own code never imports either (senders build
the message by the actor's name: ``scripts_app.runs.sending``).
"""

from scripts_app.worker.actor import run_execution

__all__ = ["run_execution"]
