"""Admin forms: the "Run with parameters" form built from a job's JSON Schema, and the
job form's write-only secrets section.

The run form only converts what a person typed into JSON values; the schema itself
is checked by ``dispatch.trigger`` and its errors are put back on the form.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from scripts_app import validators
from scripts_app.errors import DependencyError
from scripts_app.jobs import saving, slugs
from scripts_app.models import Job

RAW_FIELD = "_raw_json"
EMAIL_FIELD = "_email"  # not a params property: recipients of this run alone
_SIMPLE_PATH = re.compile(r"^\$\.([A-Za-z_][A-Za-z0-9_]*)")
_QUOTED_PATH = re.compile(r"^\$\['((?:[^'\\]|\\.)*)'\]")


def schema_type(spec: dict) -> str | None:
    """The property's JSON type; for ``["string", "null"]`` the non-null one."""
    kind = spec.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        return kinds[0] if len(kinds) == 1 else None
    if kind is None and "enum" in spec:
        values = spec["enum"]
        if values and all(isinstance(v, str) for v in values):
            return "string"
    return kind


def _label(name: str, spec: dict) -> str:
    return spec.get("title") or name.replace("_", " ").capitalize()


class JSONValueField(forms.JSONField):
    """Any JSON value typed as text (objects, arrays, or types the form has no widget for)."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 60, "class": "vLargeTextField"})
    default_error_messages = {"invalid": "Enter a valid JSON value."}


class JSONChoiceField(forms.TypedChoiceField):
    """An ``enum`` whose values are not all strings: choices carry JSON-encoded values."""

    def __init__(self, values: list, **kwargs):
        choices = [(json.dumps(v), str(v)) for v in values]
        if not kwargs.get("required", True):
            choices = [("", "—")] + choices
        super().__init__(choices=choices, coerce=json.loads, empty_value=None, **kwargs)

    def prepare_value(self, value):
        if value is None or (isinstance(value, str) and value in dict(self.choices)):
            return value
        return json.dumps(value)


def field_for(name: str, spec: dict, required: bool) -> forms.Field:
    """A form field for one schema property (falls back to a JSON text field)."""
    if not isinstance(spec, dict):
        spec = {}
    kind = schema_type(spec)
    common: dict[str, Any] = {
        "label": _label(name, spec),
        "required": required,
        "help_text": spec.get("description", ""),
    }
    if "enum" in spec:
        values = spec["enum"]
        if all(isinstance(v, str) for v in values):
            choices = [(v, v) for v in values]
            if not required:
                choices = [("", "—")] + choices
            return forms.ChoiceField(choices=choices, **common)
        return JSONChoiceField(values, **common)
    if kind == "boolean":
        common["required"] = False  # an unticked box is a value (false), not a missing one
        return forms.BooleanField(**common)
    if kind == "integer":
        return forms.IntegerField(**common)
    if kind == "number":
        return forms.FloatField(**common)
    if kind == "string":
        max_length = spec.get("maxLength")
        if spec.get("format") == "date":
            common["widget"] = forms.DateInput(attrs={"type": "date"})
        elif max_length is None or max_length > 200:
            common["widget"] = forms.TextInput(attrs={"class": "vLargeTextField", "size": 60})
        return forms.CharField(strip=False, **common)
    if kind == "array":
        items = spec.get("items") if isinstance(spec.get("items"), dict) else {}
        values = items.get("enum")
        if values and all(isinstance(v, str) for v in values):
            return forms.MultipleChoiceField(
                choices=[(v, v) for v in values], widget=forms.CheckboxSelectMultiple, **common
            )
    common["help_text"] = " ".join(filter(None, [common["help_text"], "A JSON value."]))
    return JSONValueField(**common)


class RunParamsForm(forms.Form):
    """One field per property of the job's params schema, plus a raw-JSON fallback.

    ``params()`` returns the JSON object to pass to ``dispatch.trigger``; empty optional
    fields are left out so the job's defaults and the schema's own rules apply.
    """

    def __init__(self, job: Job, *args, **kwargs):
        self.job = job
        super().__init__(*args, **kwargs)
        schema = job.params_schema if isinstance(job.params_schema, dict) else {}
        properties = schema.get("properties")
        self.property_names: list[str] = []
        if isinstance(properties, dict):
            required = set(schema.get("required") or [])
            defaults = job.default_params or {}
            for name, spec in properties.items():
                if name == RAW_FIELD:
                    continue
                field = field_for(name, spec, name in required)
                if name in defaults:
                    field.initial = defaults[name]
                elif isinstance(spec, dict) and "default" in spec:
                    field.initial = spec["default"]
                self.fields[name] = field
                self.property_names.append(name)
        # No generated fields left to fill: the raw JSON object is the whole form.
        self.raw_only = not self.property_names
        self.fields[RAW_FIELD] = forms.CharField(
            label="Params as JSON" if self.raw_only else "Or give all params as JSON",
            required=False,
            strip=True,
            widget=forms.Textarea(attrs={"rows": 6, "cols": 60, "class": "vLargeTextField"}),
            help_text=(
                "A JSON object, merged over the job's default params."
                if self.raw_only
                else "When filled in, this JSON object is used instead of the fields above."
            ),
        )
        if self.raw_only and job.default_params:
            self.fields[RAW_FIELD].initial = json.dumps(job.default_params, indent=2)
        self.fields[EMAIL_FIELD] = forms.CharField(
            label="E-mail the outcome to",
            required=False,
            widget=forms.TextInput(attrs={"class": "vLargeTextField", "size": 60}),
            help_text="Optional, comma-separated: mailed when this run ends, whatever the "
            "job's notification setting.",
        )

    def clean__email(self) -> list[str]:
        try:
            return validators.email_list(self.cleaned_data.get(EMAIL_FIELD))
        except ValidationError as exc:
            raise ValidationError(exc.messages[0]) from None

    def recipients(self) -> list[str]:
        return self.cleaned_data.get(EMAIL_FIELD) or []

    @property
    def uses_raw(self) -> bool:
        return bool(self.is_bound and (self.data.get(RAW_FIELD) or "").strip()) or self.raw_only

    def full_clean(self):
        # In raw mode the generated fields are ignored, so they cannot block the run.
        if self.is_bound and self.uses_raw:
            for name in self.property_names:
                self.fields[name].required = False
                self.fields[name].disabled = True
        super().full_clean()

    def clean__raw_json(self):
        text = self.cleaned_data.get(RAW_FIELD) or ""
        if not text:
            return None
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"Not valid JSON: {exc.msg} (line {exc.lineno}).") from None
        if not isinstance(value, dict):
            raise ValidationError('Params must be a JSON object, like {"name": "World"}.')
        return value

    def params(self) -> dict:
        if self.uses_raw:
            return self.cleaned_data.get(RAW_FIELD) or {}
        params = {}
        for name in self.property_names:
            field = self.fields[name]
            value = self.cleaned_data.get(name)
            if isinstance(field, forms.BooleanField):
                params[name] = bool(value)
            elif value in (None, "", []) and not field.required:
                continue
            else:
                params[name] = value
        return params

    def add_schema_errors(self, errors: list[dict[str, str]]) -> None:
        """Put each ``{"path", "message"}`` from the schema check on its field."""
        for error in errors:
            name = property_of(error.get("path", ""))
            if name and name in self.property_names and not self.uses_raw:
                self.add_error(name, error["message"])
            elif self.uses_raw:
                self.add_error(RAW_FIELD, f"{error['path']}: {error['message']}")
            else:
                self.add_error(None, f"{error['path']}: {error['message']}")


def property_of(path: str) -> str | None:
    """The top-level property a JSONPath like ``$.name`` or ``$['a b'][0]`` points into."""
    match = _SIMPLE_PATH.match(path) or _QUOTED_PATH.match(path)
    return match.group(1) if match else None


class SecretsFormMixin(forms.Form):
    """Write-only secrets: a new name/value pair, and ticks to remove existing ones.

    A value is never shown again, not even after a form error.
    """

    secret_name = forms.CharField(
        label="Add or replace secret",
        required=False,
        max_length=100,
        help_text="Environment variable name, e.g. DB_PASSWORD.",
    )
    secret_value = forms.CharField(
        label="Secret value",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Stored encrypted and given to the script; it is never shown again.",
    )
    remove_secrets = forms.MultipleChoiceField(
        label="Remove secrets",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=[],
    )

    def set_secret_names(self, names: list[str]) -> None:
        self.fields["remove_secrets"].choices = [(n, n) for n in names]
        if not names:
            self.fields["remove_secrets"].help_text = "This job has no secrets yet."

    def clean_secret_name(self):
        name = self.cleaned_data.get("secret_name", "").strip()
        if name:
            validators.validate_env_name(name)
        return name

    def clean(self):
        cleaned = super().clean()
        name, value = cleaned.get("secret_name"), cleaned.get("secret_value")
        if name and not value:
            self.add_error("secret_value", "Give the secret's value.")
        if value and not name and "secret_name" not in self.errors:
            self.add_error("secret_name", "Give the secret a name.")
        return cleaned


class JobAdminForm(SecretsFormMixin, forms.ModelForm):
    """The job form; ``JobAdmin`` supplies the model and the fields. A new job's slug may
    be left empty: it is made from the name, as the API does (``jobs.slugs``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "slug" in self.fields and not self.instance.pk:
            self.fields["slug"].required = False
            self.fields[
                "slug"
            ].help_text = (
                "Leave empty to make one from the name (Бэкап базы данных → bekap-bazy-dannykh)."
            )

    def clean(self):
        cleaned = super().clean()
        if "slug" in self.fields and not cleaned.get("slug") and cleaned.get("name"):
            if not self.instance.pk:
                cleaned["slug"] = slugs.unique_slug(cleaned["name"])
        return cleaned

    def _post_clean(self):
        """After the model's own checks: resolve the declared dependencies, so a
        declaration that does not resolve is a form error and nothing is saved."""
        super()._post_clean()
        changed = saving.VERSIONED_FIELDS & set(self.changed_data)
        if self._errors or (self.instance.pk and not changed):
            return
        upload = self.cleaned_data.get("script") if "script" in self.changed_data else None
        try:
            saving.lock_before_save(self.instance, upload)
        except DependencyError as exc:
            field = getattr(exc, "field", None)
            self.add_error(field if field in self.fields else None, str(exc))
