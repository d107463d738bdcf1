"""Business logic shared by the admin, the API, the CLI, the worker and the scheduler."""
