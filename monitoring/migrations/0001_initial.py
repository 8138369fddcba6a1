# The root both halves of monitoring (logs, alerts) build on.
from django.db import migrations


class Migration(migrations.Migration):
    initial = True
    dependencies: list = []
    operations: list = []
