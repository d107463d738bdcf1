"""A Django project that is not Parseq, generated in a temporary folder, with django-parseq
installed from the wheel built from this checkout (tests/test_packaging.py).

The project has its own settings, urls and one app (``inventory``, one model) and relies
on nothing in ``parseq/``: it lives outside the repository, and its virtualenv has the
wheel installed, not the checkout. The wheel's dependencies are not downloaded: the new
virtualenv sees this checkout's virtualenv's site-packages through a ``.pth`` file (the
same packages, pinned in requirements.txt), so ``pip install --no-index`` proves the
wheel's requirements are satisfied by them and installs only the wheel.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What a wheel is built from: the distribution's files, copied so the build leaves
# nothing in the checkout (setuptools writes build/ and *.egg-info beside pyproject.toml).
DISTRIBUTION_FILES = ("pyproject.toml", "README.md", "scripts_app")

SETTINGS = """
from pathlib import Path

from scripts_app.conf import dramatiq_broker

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "a-host-project-of-its-own"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "django_dramatiq",
    "scripts_app",
    "inventory",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "hostsite.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": BASE_DIR / "db.sqlite3",
        "OPTIONS": {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
STATIC_URL = "static/"
DRAMATIQ_BROKER = dramatiq_broker()
"""

URLS = """
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("scripts_app.urls")),
]
"""

FILES = {
    "manage.py": """
        import os
        import sys

        if __name__ == "__main__":
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hostsite.settings")
            from django.core.management import execute_from_command_line

            execute_from_command_line(sys.argv)
    """,
    "hostsite/__init__.py": "",
    "hostsite/settings.py": SETTINGS,
    "hostsite/urls.py": URLS,
    "inventory/__init__.py": "",
    "inventory/migrations/__init__.py": "",
    "inventory/models.py": """
        from django.db import models


        class Item(models.Model):
            name = models.CharField(max_length=100)
            count = models.IntegerField(default=0)
    """,
    # A code job of the host app: its own model, through the ORM, on the worker.
    "inventory/jobs.py": """
        from scripts_app import job

        from inventory.models import Item


        @job(slug="count-item", timeout=60)
        def count_item(data):
            item, _ = Item.objects.get_or_create(name=data["name"])
            item.count += 1
            item.save()
            return {"name": item.name, "count": item.count}
    """,
    # A script named by path (PARSEQ_SCRIPTS_DIR defaults to BASE_DIR / "parsers").
    "parsers/double.py": """
        def main(params):
            return {"doubled": params["n"] * 2}
    """,
}


def build_wheel(dest: Path) -> Path:
    """The django-parseq wheel of this checkout, built offline from a copy of it."""
    source = dest / "source"
    for name in DISTRIBUTION_FILES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            source.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, source / name)
    wheels = dest / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
        + ["--wheel-dir", str(wheels), str(source)],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("django_parseq-*.whl")
    return wheel


def make_virtualenv(dest: Path, wheel: Path) -> Path:
    """A new virtualenv with the wheel installed; its Python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(dest)], check=True)
    python = dest / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # The checkout's installed packages (its pins), not the checkout itself.
    (Path(site) / "parseq_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"]
        + ["--no-index", "--disable-pip-version-check", str(wheel)],
        check=True,
        capture_output=True,
    )
    # rundramatiq execs the `dramatiq` script beside sys.executable: the console script a
    # pip install of dramatiq would have made in this virtualenv.
    shim = dest / "bin" / "dramatiq"
    shim.write_text(
        f"#!{python}\nimport sys\nfrom dramatiq.__main__ import main\nsys.exit(main())\n"
    )
    shim.chmod(0o755)
    return python


class HostProject:
    def __init__(self, root: Path, python: Path):
        self.root = root
        self.python = python
        self.worker: subprocess.Popen | None = None
        for name, text in FILES.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip())

    def add_file(self, name: str, text: str) -> None:
        (self.root / name).write_text(textwrap.dedent(text).lstrip())

    def env(self) -> dict[str, str]:
        # A plain environment: nothing of the suite's settings or services.
        keep = ("PATH", "HOME", "LANG", "TMPDIR")
        return {name: os.environ[name] for name in keep if name in os.environ}

    def manage(self, *args: str, check: bool = True, timeout: float = 120):
        result = subprocess.run(
            [str(self.python), "manage.py", *args],
            cwd=self.root,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"manage.py {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result

    def start_worker(self) -> None:
        if self.worker is not None and self.worker.poll() is None:
            return  # one worker for the module's tests
        self.worker = subprocess.Popen(
            [str(self.python), "manage.py", "rundramatiq", "--processes", "1", "--threads", "2"],
            cwd=self.root,
            env=self.env(),
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / "worker.log", "wb"),  # noqa: SIM115 (the worker keeps it)
            start_new_session=True,
        )

    def worker_log(self) -> str:
        return (self.root / "worker.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.worker is None or self.worker.poll() is not None:
            return
        os.killpg(self.worker.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while self.worker.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.worker.poll() is None:
            os.killpg(self.worker.pid, signal.SIGKILL)
            self.worker.wait()
