"""Who may open the console and what each operator group may do there."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from aggregator.console.groups import OPERATORS, READ_ONLY_OPERATORS, groups_grant_permissions
from aggregator.models import Pipeline

pytestmark = pytest.mark.django_db


def _codenames(group: str) -> set[str]:
    return {
        f"{app}.{codename}"
        for app, codename in Group.objects.get(name=group).permissions.values_list(
            "content_type__app_label", "codename"
        )
    }


def test_it_sends_anonymous_visitors_to_the_login_page(client):
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_it_keeps_signed_in_non_staff_users_out(alice):
    client = Client()
    client.force_login(alice)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]
    assert client.get(reverse("admin:aggregator_pipeline_changelist")).status_code == 302


def test_the_migration_creates_both_operator_groups():
    assert set(Group.objects.filter(name__in=[OPERATORS, READ_ONLY_OPERATORS]).values_list("name", flat=True)) == {
        OPERATORS,
        READ_ONLY_OPERATORS,
    }


def test_operators_get_permissions_of_apps_that_migrate_after_the_core():
    operators = _codenames(OPERATORS)
    assert {"aggregator.change_pipeline", "files.change_fileupload", "django_celery_beat.change_periodictask"} <= (
        operators
    )
    assert "monitoring.view_systemlog" in operators


def test_operators_may_not_edit_or_delete_records_of_fact():
    operators = _codenames(OPERATORS)
    assert "monitoring.change_systemlog" not in operators
    assert "monitoring.delete_systemlog" not in operators
    assert "monitoring.delete_logarchive" not in operators
    # Restoring an archive is an operator's action on it.
    assert "monitoring.change_logarchive" in operators


def test_operators_see_users_but_do_not_manage_them():
    operators = _codenames(OPERATORS)
    assert "auth.view_user" in operators
    assert not {"auth.add_user", "auth.change_user", "auth.delete_user"} & operators


def test_read_only_operators_hold_only_view_permissions():
    read_only = _codenames(READ_ONLY_OPERATORS)
    assert "aggregator.view_pipeline" in read_only
    assert "files.view_fileupload" in read_only
    assert all(codename.split(".")[1].startswith("view_") for codename in read_only)


def test_granting_twice_changes_nothing():
    before = _codenames(OPERATORS), _codenames(READ_ONLY_OPERATORS)
    groups_grant_permissions()
    assert (_codenames(OPERATORS), _codenames(READ_ONLY_OPERATORS)) == before


def test_a_read_only_operator_can_view_but_not_change(readonly_browser, alice):
    pipeline = Pipeline.objects.create(owner=alice, name="nightly")
    assert readonly_browser.get(reverse("admin:index")).status_code == 200
    listing = readonly_browser.get(reverse("admin:aggregator_pipeline_changelist"))
    assert listing.status_code == 200
    assert b"nightly" in listing.content
    change_url = reverse("admin:aggregator_pipeline_change", args=[pipeline.pk])
    page = readonly_browser.get(change_url)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content

    response = readonly_browser.post(change_url, {"owner": alice.pk, "name": "renamed", "status": "active"})

    assert response.status_code == 403
    pipeline.refresh_from_db()
    assert pipeline.name == "nightly"
    assert readonly_browser.get(reverse("admin:aggregator_pipeline_add")).status_code == 403


def test_a_read_only_operator_cannot_run_actions(readonly_browser, alice):
    pipeline = Pipeline.objects.create(owner=alice, name="nightly")
    response = readonly_browser.post(
        reverse("admin:aggregator_pipeline_changelist"),
        {"action": "activate", "_selected_action": [pipeline.pk]},
    )
    pipeline.refresh_from_db()
    assert pipeline.status == Pipeline.Status.DRAFT
    assert response.status_code in (200, 302, 403)


def test_an_operator_can_change_a_pipeline(operator_browser, alice):
    pipeline = Pipeline.objects.create(owner=alice, name="nightly")

    response = operator_browser.post(
        reverse("admin:aggregator_pipeline_changelist"),
        {"action": "activate", "_selected_action": [pipeline.pk]},
    )

    assert response.status_code == 302
    pipeline.refresh_from_db()
    assert pipeline.status == Pipeline.Status.ACTIVE


def test_an_operator_can_edit_beat_schedules(operator_browser):
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name="worker heartbeat")
    page = operator_browser.get(reverse("admin:django_celery_beat_periodictask_change", args=[task.pk]))
    assert page.status_code == 200
    assert b'name="_save"' in page.content
    response = operator_browser.post(
        reverse("admin:django_celery_beat_periodictask_changelist"),
        {"action": "disable_tasks", "_selected_action": [task.pk]},
    )
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.enabled is False


def test_every_admin_action_needs_a_permission_beyond_viewing():
    from django.contrib import admin

    for model, model_admin in admin.site._registry.items():
        for func, name, _description in model_admin._get_base_actions():
            assert getattr(func, "allowed_permissions", ()), f"{model._meta.label}: action {name} has no permission"


def test_a_read_only_operator_is_offered_no_action_on_any_list(readonly_browser):
    from django.contrib import admin

    for model in admin.site._registry:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        response = readonly_browser.get(url)
        assert response.status_code in (200, 403), url
        assert b'name="action"' not in response.content, f"{url} offers actions to a read-only operator"


@pytest.fixture
def completed_file(alice, tmp_path, django_capture_on_commit_callbacks, settings, monkeypatch):
    from files import conf as files_conf
    from files.models import FileUpload
    from files.services import file_upload_create_from_path

    settings.MEDIA_ROOT = str(tmp_path / "media")
    monkeypatch.setattr(files_conf, "TEMP_DIR", tmp_path / "media" / "tus")
    monkeypatch.setattr(files_conf, "CLAMAV_URL", "")
    path = tmp_path / "ok.csv"
    path.write_bytes(b"a,b\n1,2\n")
    with django_capture_on_commit_callbacks(execute=True):
        upload = file_upload_create_from_path(owner=alice, path=path, filename="ok.csv")
    # A marker that only a new scan replaces.
    FileUpload.objects.filter(pk=upload.pk).update(scan_result="stale")
    upload.refresh_from_db()
    return upload


def test_the_rescan_action_falls_under_the_action_policy():
    from django.contrib import admin

    from aggregator.console.policy import PERMISSION
    from files.models import FileUpload

    actions = {name: func for func, name, _ in admin.site._registry[FileUpload]._get_base_actions()}
    assert actions["rescan"].allowed_permissions == (PERMISSION,)


def test_a_read_only_operator_cannot_rescan_a_file(
    readonly_browser, completed_file, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        readonly_browser.post(
            reverse("admin:files_fileupload_changelist"),
            {"action": "rescan", "_selected_action": [str(completed_file.pk)]},
        )

    completed_file.refresh_from_db()
    assert completed_file.scan_result == "stale"
    assert b"Re-scan with ClamAV" not in readonly_browser.get(reverse("admin:files_fileupload_changelist")).content


def test_an_operator_can_rescan_a_file(operator_browser, completed_file, django_capture_on_commit_callbacks):
    page = operator_browser.get(reverse("admin:files_fileupload_changelist"))
    with django_capture_on_commit_callbacks(execute=True):
        response = operator_browser.post(
            reverse("admin:files_fileupload_changelist"),
            {"action": "rescan", "_selected_action": [str(completed_file.pk)]},
        )

    assert b"Re-scan with ClamAV" in page.content
    assert response.status_code == 302
    completed_file.refresh_from_db()
    assert completed_file.scan_result == "not scanned: no scanner configured (CLAMAV_URL)"
