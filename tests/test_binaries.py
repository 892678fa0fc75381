"""The binaries every check runs are the releases the stacks deploy."""
from __future__ import annotations

import pytest

from tools import binaries as b


@pytest.mark.parametrize("stack", b.committed_stacks())
@pytest.mark.parametrize("command", sorted(b.PRODUCT_OF_COMMAND))
def test_the_binary_the_checks_run_reports_the_release_the_stack_deploys(stack, command):
    release = b.deployed(stack)[b.PRODUCT_OF_COMMAND[command].name]
    path = b.binary(command, stack)
    assert b.reported_version(path) == release.version, \
        f"{stack} deploys {release.image} but the checks would run {path}"


def test_every_committed_stack_names_its_releases_in_its_image_tags():
    for stack in b.committed_stacks():
        releases = b.deployed(stack)
        assert set(releases) == {"prometheus", "alertmanager"}
        for release in releases.values():
            assert release.image.endswith(f":v{release.version}")


@pytest.mark.parametrize(("image", "version", "module_version"), [
    ("prom/prometheus:v3.14.0", "3.14.0", "v0.314.0"),
    ("quay.io/prometheus/prometheus:v3.5.2", "3.5.2", "v0.305.2"),
    ("registry.hospital.example:5000/prom/prometheus:v3.16.1", "3.16.1", "v0.316.1"),
])
def test_a_prometheus_tag_maps_to_its_go_module_version(image, version, module_version):
    release = b.release_of(b.PROMETHEUS, image)
    assert (release.version, release.module_version) == (version, module_version)
    assert release.directory.name == f"prometheus-{version}"


def test_an_alertmanager_tag_is_its_module_version():
    release = b.release_of(b.ALERTMANAGER, "prom/alertmanager:v0.35.0")
    assert (release.version, release.module_version) == ("0.35.0", "v0.35.0")


@pytest.mark.parametrize("image", ["prom/prometheus:latest", "prom/prometheus:main", "prom/prometheus",
                                   "registry:5000/prom/prometheus", "prom/prometheus:v3.14"])
def test_an_image_without_a_release_tag_cannot_be_built(image):
    with pytest.raises(b.BinariesError, match="not a release version"):
        b.release_of(b.PROMETHEUS, image)


def test_prometheus_2_has_no_module_mapping_here():
    with pytest.raises(b.BinariesError, match="only 3.x"):
        _ = b.release_of(b.PROMETHEUS, "prom/prometheus:v2.53.0").module_version


def test_two_stacks_on_different_releases_build_both(monkeypatch):
    tags = {"dev": "v3.15.0", "prod": "v3.14.0"}
    monkeypatch.setattr(b, "deployed", lambda stack: {
        "prometheus": b.release_of(b.PROMETHEUS, f"prom/prometheus:{tags[stack]}"),
        "alertmanager": b.release_of(b.ALERTMANAGER, "prom/alertmanager:v0.35.0")})
    releases = b.all_releases(["dev", "prod"])
    assert [str(r) for r in releases] == ["alertmanager 0.35.0", "prometheus 3.14.0", "prometheus 3.15.0"]


def test_a_missing_build_is_an_error_that_says_how_to_build_it(monkeypatch, tmp_path):
    monkeypatch.setattr(b, "BIN_DIR", tmp_path)
    with pytest.raises(b.BinariesError, match=r"run ./scripts/setup"):
        b.binary("promtool", "prod")
