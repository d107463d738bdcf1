from django.db import models


class Note(models.Model):
    """A row a code job writes with the host app's own model."""

    text = models.CharField(max_length=200)
    run_id = models.IntegerField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.text
