"""Code jobs: ``@job`` functions and ``BaseJob`` classes of the host project's apps.

``registry`` collects them (at import of each app's ``jobs`` module, ``discovery``),
``sync`` makes them Job rows (kind=code), ``invoke`` calls one in a run's process.
Keep this file empty of imports: ``scripts_app`` exports ``job``/``BaseJob`` lazily.
"""
