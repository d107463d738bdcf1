import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = "Create the 'admin' superuser with a generated password, printed once."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username: str, **options):
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            self.stdout.write(
                f"Superuser '{username}' exists (its password was printed when it was created; "
                f"reset it with: python manage.py changepassword {username})."
            )
            return
        password = secrets.token_urlsafe(12)
        user = User.objects.create_superuser(username, f"{username}@localhost", password)
        token = Token.objects.create(user=user)
        bar = "=" * 64
        self.stdout.write(
            f"{bar}\n  Admin account created (shown this once):\n"
            f"    username: {username}\n    password: {password}\n"
            f"    API token: {token.key}\n{bar}"
        )
