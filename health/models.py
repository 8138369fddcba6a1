from django.db import models


class ComponentHealth(models.Model):
    """No table: this only gives the operator page its place on the admin
    index (Health › Component health), next to the models operators manage."""

    class Meta:
        managed = False
        default_permissions = ()
        verbose_name = "component health"
        verbose_name_plural = "component health"

    def __str__(self) -> str:
        return "component health"
