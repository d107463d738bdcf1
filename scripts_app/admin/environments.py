"""The job page's "Dependencies" section: what the current script version declares,
what its lock pins, and which worker caches already hold its environment."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html, format_html_join

from scripts_app.admin import display
from scripts_app.environments import locking, records
from scripts_app.jobs import versions
from scripts_app.models import ScriptVersion

FIELDS = ("dependency_problem", "declared_dependencies", "locked_packages", "environment_copies")


def current_version(job) -> ScriptVersion | None:
    """The stored version of the job's current script (None before its first save/run)."""
    if job is None or not job.pk:
        return None
    cached = getattr(job, "_shown_version", False)
    if cached is not False:
        return cached
    version_id, _ = versions.pinned_versions([job]).get(job.pk, (None, None))
    job._shown_version = ScriptVersion.objects.filter(pk=version_id).first() if version_id else None
    return job._shown_version


def copies_html(version: ScriptVersion):
    copies = records.copies_of(version.lock_sha256)
    if not copies:
        return "not built on any worker yet: the first run builds it (its log says how long)"
    rows = [
        (
            copy.host,
            display.relative_time(copy.recorded_at),
            f"{copy.size_bytes / 1048576:.1f} MB",
            f", built in {copy.build_seconds:.1f} s" if copy.build_seconds is not None else "",
        )
        for copy in copies
    ]
    return format_html(
        "<ul class='parseq-env-copies'>{}</ul>",
        format_html_join("", "<li><code>{}</code> (recorded {}, {}{})</li>", rows),
    )


class EnvironmentFields:
    """Read-only display fields for ``JobAdmin``."""

    @admin.display(description="Dependency problem")
    def dependency_problem(self, job):
        if not job.dependency_error:
            return "none"
        return format_html('<pre class="parseq-error">{}</pre>', job.dependency_error)

    @admin.display(description="Declared dependencies")
    def declared_dependencies(self, job):
        version = current_version(job)
        if version is None:
            return "—"
        if not version.lock_sha256:
            return "none: the script runs in the worker's own interpreter"
        items = format_html_join(
            "", "<li><code>{}</code></li>", ((d,) for d in version.dependencies)
        )
        python = (
            format_html(" <small>requires-python {}</small>", version.requires_python)
            if version.requires_python
            else ""
        )
        return format_html("<ul>{}</ul>{}", items or format_html("<li>(none)</li>"), python)

    @admin.display(description="Lock (pinned versions)")
    def locked_packages(self, job):
        version = current_version(job)
        if version is None or not version.lock_sha256:
            return "—"
        pins = locking.pinned_packages(version.lock)
        listed = format_html_join(", ", "<code>{}=={}</code>", pins) or "no packages"
        return format_html(
            '{} <details><summary>lock {}</summary><pre class="parseq-lock">{}</pre></details>',
            listed,
            version.lock_sha256[:12],
            version.lock,
        )

    @admin.display(description="Environment on workers")
    def environment_copies(self, job):
        version = current_version(job)
        if version is None or not version.lock_sha256:
            return "—"
        return copies_html(version)
