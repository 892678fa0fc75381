"""grafana.ini for each way of signing in: locked down without SSO, roles from groups with it."""
from __future__ import annotations

import configparser

import jmespath
import pytest

from components.renderers.grafana import OIDC_CLIENT_SECRET_FILE, render_grafana_ini, role_attribute_path
from components.settings import parse

OIDC = {
    "oidcEnabled": "true",
    "oidcAuthUrl": "https://sso.hospital.example/realms/staff/protocol/openid-connect/auth",
    "oidcTokenUrl": "https://sso.hospital.example/realms/staff/protocol/openid-connect/token",
    "oidcUserinfoUrl": "https://sso.hospital.example/realms/staff/protocol/openid-connect/userinfo",
    "oidcClientId": "grafana-scheduler",
}
ALL_ROLES = {"oidcAdminGroups": '["sre-leads"]', "oidcEditorGroups": '["sre"]',
             "oidcViewerGroups": '["oncall-clinical", "program-coordinators"]'}


def ini(raw: dict, secrets=()) -> configparser.ConfigParser:
    settings = parse("dev", {"platform": "docker", **raw}, dict.fromkeys(secrets))
    parsed = configparser.ConfigParser(interpolation=None)
    parsed.read_string(render_grafana_ini(settings))
    return parsed


def test_without_single_sign_on_only_the_admin_signs_in_and_nobody_anonymously():
    config = ini({})
    assert config["auth.anonymous"]["enabled"] == "false"
    assert config["users"]["allow_sign_up"] == "false"
    assert not config.has_section("auth.generic_oauth")
    assert config["security"]["cookie_samesite"] == "strict"


@pytest.mark.parametrize("roles", [ALL_ROLES, {"oidcViewerGroups": '["oncall"]'},
                                   {"oidcAdminGroups": '["sre-leads"]', "oidcViewerGroups": '["oncall"]'}])
def test_with_single_sign_on_roles_come_from_groups_and_the_secret_from_a_file(roles):
    config = ini({**OIDC, **roles}, secrets=("oidcClientSecret",))
    oauth = config["auth.generic_oauth"]
    assert oauth["enabled"] == "true" and oauth["client_id"] == "grafana-scheduler"
    assert oauth["client_secret"] == f"$__file{{{OIDC_CLIENT_SECRET_FILE}}}"
    assert oauth["role_attribute_strict"] == "true" and oauth["allow_assign_grafana_admin"] == "false"
    wanted = {g.strip('" ') for v in roles.values() for g in v.strip("[]").split(",")}
    assert set(oauth["allowed_groups"].split()) == wanted
    assert config["auth"]["oauth_auto_login"] == "true" and config["auth"]["disable_login_form"] == "false", \
        "the break-glass admin keeps the form at /login?disableAutoLogin=true"
    assert config["auth.anonymous"]["enabled"] == "false" and config["users"]["allow_sign_up"] == "false"
    # The provider's redirect back is cross-site: a strict cookie would break every sign-in.
    assert config["security"]["cookie_samesite"] == "lax"


@pytest.mark.parametrize("groups, role", [
    (["sre-leads", "oncall-clinical"], "Admin"),
    (["sre", "program-coordinators"], "Editor"),
    (["oncall-clinical"], "Viewer"),
    (["program-coordinators"], "Viewer"),
    (["radiology"], None),
    ([], None),
])
def test_the_role_path_gives_each_person_the_strongest_role_of_their_groups(groups, role):
    settings = parse("dev", {"platform": "docker", **OIDC, **ALL_ROLES}, {"oidcClientSecret": None})
    assert jmespath.search(role_attribute_path(settings), {"groups": groups}) == (role or False)


def test_a_group_name_with_quotes_stays_one_string():
    settings = parse("dev", {"platform": "docker", **OIDC, "oidcViewerGroups": '["O\'Brien team"]'},
                     {"oidcClientSecret": None})
    assert jmespath.search(role_attribute_path(settings), {"groups": ["O'Brien team"]}) == "Viewer"
    assert jmespath.search(role_attribute_path(settings), {"groups": ["O"]}) is False


def test_another_groups_claim_is_used_everywhere():
    config = ini({**OIDC, "oidcGroupsClaim": "roles", "oidcGroupsScope": "", "oidcViewerGroups": '["oncall"]'},
                 secrets=("oidcClientSecret",))
    oauth = config["auth.generic_oauth"]
    assert oauth["groups_attribute_path"] == "roles[*]" and "contains(roles[*]" in oauth["role_attribute_path"]
    assert oauth["scopes"] == "openid profile email"
