"""Prometheus, promtool, Alertmanager and amtool at exactly the releases the stacks deploy.

    python -m tools.binaries build      # build what is missing (scripts/setup runs this)
    python -m tools.binaries list       # stack -> release -> binary paths

The versions are not written here: they come from the image tags the
committed stacks deploy (`prometheusImage`, `alertmanagerImage`: the
defaults in components/settings.py or a stack's own setting). Each release
is built from its Go module, at the module version that release is
published as, into `.cache/bin/<name>-<version>/`, and reused from there.
Upgrading is changing the tag and running ./scripts/test.

Builds use the machine's Go and its module and build caches, so a second
checkout on the same machine links in seconds instead of compiling for
minutes.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from components.settings import PROJECT_DIR, Settings, SettingsError, from_stack_file, image_release

CACHE_DIR = PROJECT_DIR / ".cache"
BIN_DIR = CACHE_DIR / "bin"
BUILD_INFO = "BUILD-INFO.json"
# The package Prometheus projects read their own version from (`--version`,
# the build-info metric and API); the release builds set it the same way.
VERSION_PACKAGE = "github.com/prometheus/common/version"


class BinariesError(RuntimeError):
    """A release cannot be built or is not built; the message says what to do."""


@dataclass(frozen=True)
class Product:
    """A server whose releases are Go modules: how an image tag becomes a build."""
    name: str                      # also the image setting's prefix: prometheusImage, alertmanagerImage
    module: str
    commands: tuple[str, ...]      # cmd/<command> packages, built into one directory
    # Files the module's Go code embeds but the module archive does not carry
    # (compiled web UIs): created as placeholders so the server builds; the
    # API every check uses is unaffected.
    placeholder_files: tuple[str, ...] = ()

    def image_of(self, settings: Settings) -> str:
        return getattr(settings, f"{self.name}_image")

    def module_version(self, version: str) -> str:
        major, minor, patch = (int(part) for part in version.split("."))
        if self.name == "prometheus":
            # Prometheus 3.MM.P is published as module version v0.3MM.P.
            if major != 3:
                raise BinariesError(f"Prometheus {version}: only 3.x releases are mapped to Go modules here")
            return f"v0.{300 + minor}.{patch}"
        return f"v{major}.{minor}.{patch}"


PROMETHEUS = Product("prometheus", "github.com/prometheus/prometheus", ("prometheus", "promtool"))
ALERTMANAGER = Product("alertmanager", "github.com/prometheus/alertmanager", ("alertmanager", "amtool"),
                       placeholder_files=("ui/app/dist/elm/index.html", "ui/app/dist/mantine/index.html"))
PRODUCTS = (PROMETHEUS, ALERTMANAGER)
PRODUCT_OF_COMMAND = {command: product for product in PRODUCTS for command in product.commands}


@dataclass(frozen=True)
class Release:
    product: Product
    version: str           # the image tag without its "v": 3.14.0
    image: str             # where the version came from

    @property
    def module_version(self) -> str:
        return self.product.module_version(self.version)

    @property
    def directory(self) -> Path:
        return BIN_DIR / f"{self.product.name}-{self.version}"

    def path(self, command: str) -> Path:
        return self.directory / command

    def built(self) -> bool:
        return (self.directory / BUILD_INFO).is_file() and all(
            os.access(self.path(command), os.X_OK) for command in self.product.commands)

    def __str__(self) -> str:
        return f"{self.product.name} {self.version}"


def release_of(product: Product, image: str) -> Release:
    """The release an image reference names, from its tag (`prom/prometheus:v3.14.0` -> 3.14.0)."""
    release = image_release(image)
    if release is None:
        raise BinariesError(f"{product.name} image {image!r}: its tag is not a release version such as v3.14.0, "
                            "so there is no release to build the test binaries from")
    return Release(product, ".".join(map(str, release)), image)


def committed_stacks() -> list[str]:
    return sorted(path.name[len("Pulumi."):-len(".yaml")] for path in PROJECT_DIR.glob("Pulumi.*.yaml"))


def deployed(stack: str) -> dict[str, Release]:
    """Product name -> the release a stack deploys."""
    try:
        settings, _ = from_stack_file(stack)
    except SettingsError as error:
        raise BinariesError(str(error)) from None
    return {product.name: release_of(product, product.image_of(settings)) for product in PRODUCTS}


def all_releases(stacks: Iterable[str] | None = None) -> list[Release]:
    """Every distinct release the committed stacks deploy."""
    found: dict[tuple[str, str], Release] = {}
    for stack in stacks if stacks is not None else committed_stacks():
        for release in deployed(stack).values():
            found.setdefault((release.product.name, release.version), release)
    return [found[key] for key in sorted(found)]


def binary(command: str, stack: str) -> str:
    """Path of `command` at the release `stack` deploys; an error that says how to build it if missing."""
    release = deployed(stack)[PRODUCT_OF_COMMAND[command].name]
    if not release.built():
        raise BinariesError(f"{command} {release.version} (deployed by stack {stack}) is not built in "
                            f"{release.directory}; run ./scripts/setup")
    return str(release.path(command))


def binaries_of(product: Product, stacks: Iterable[str] | None = None) -> list[Release]:
    return [release for release in all_releases(stacks) if release.product is product]


# ---------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------
def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    # The module is built as its own main module, with its own go.mod, go.sum
    # and replace directives, exactly as its release builds are; a go.work in
    # the archive would name folders the archive does not hold.
    env["GOWORK"] = "off"
    env["GOFLAGS"] = " ".join(flag for flag in env.get("GOFLAGS", "").split()
                              if not flag.startswith("-mod=")) + " -mod=readonly -buildvcs=false"
    return env


def _go() -> str:
    go = shutil.which("go")
    if not go:
        raise BinariesError("the Go toolchain is not installed (go); Prometheus and Alertmanager are built "
                            "from their Go modules: install Go 1.26 or later")
    return go


def download(release: Release) -> dict:
    """`go mod download` of the release's module: its source directory and checksum."""
    spec = f"{release.product.module}@{release.module_version}"
    result = subprocess.run([_go(), "mod", "download", "-json", spec], capture_output=True, text=True,
                            env=_go_env(), cwd=tempfile.gettempdir())
    try:
        info = json.loads(result.stdout)
    except json.JSONDecodeError:
        info = {"Error": (result.stderr or result.stdout).strip()}
    if result.returncode != 0 or info.get("Error"):
        raise BinariesError(f"{release} (image {release.image}) is Go module {spec}, which the Go module "
                            f"proxy does not serve: {info.get('Error', '').strip()}. Deploy a release the "
                            "proxy serves (change the image tag) or check GOPROXY")
    return info


def build(release: Release, *, say=print) -> Path:
    """Build the release's commands into its directory (nothing to do when already built)."""
    if release.built():
        say(f"binaries: {release} cached in {release.directory.relative_to(PROJECT_DIR)}")
        return release.directory
    module = download(release)
    say(f"binaries: building {release} ({', '.join(release.product.commands)}) from "
        f"{release.product.module}@{release.module_version}; a cold build takes minutes")
    started = time.time()
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"build-{release.product.name}-", dir=CACHE_DIR) as work:
        source = Path(work) / "src"
        # The module cache is read-only; the placeholders need a writable copy.
        shutil.copytree(module["Dir"], source)
        for path in source.rglob("*"):
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | 0o200)
        for relative in release.product.placeholder_files:
            placeholder = source / relative
            if not placeholder.exists():
                placeholder.parent.mkdir(parents=True, exist_ok=True)
                placeholder.write_text("<!-- web UI not built: the API is all this binary serves -->\n")
        output = Path(work) / "bin"
        output.mkdir()
        ldflags = " ".join(f"-X {VERSION_PACKAGE}.{key}={value}" for key, value in (
            ("Version", release.version),
            ("Revision", f"{release.module_version}/{module['Sum']}"),
            ("Branch", "module"),
            ("BuildUser", "scheduler-monitoring"),
        ))
        command = [_go(), "build", "-trimpath", "-ldflags", ldflags, "-o", str(output) + "/",
                   *(f"./cmd/{name}" for name in release.product.commands)]
        result = subprocess.run(command, cwd=source, capture_output=True, text=True, env=_go_env())
        if result.returncode != 0:
            raise BinariesError(f"building {release} failed:\n{result.stderr[-4000:]}")
        go_version = subprocess.run([_go(), "env", "GOVERSION"], capture_output=True, text=True).stdout.strip()
        (output / BUILD_INFO).write_text(json.dumps({
            "release": release.version, "image": release.image, "module": release.product.module,
            "module_version": release.module_version, "module_sum": module["Sum"], "go": go_version,
            "build_seconds": round(time.time() - started, 1)}, indent=2) + "\n")
        if release.directory.exists():
            shutil.rmtree(release.directory)
        release.directory.parent.mkdir(parents=True, exist_ok=True)
        output.rename(release.directory)
    say(f"binaries: {release} built in {time.time() - started:.0f} s into "
        f"{release.directory.relative_to(PROJECT_DIR)}")
    return release.directory


def reported_version(path: str) -> str:
    """The version a binary reports with --version (`prometheus, version 3.14.0 (...)`)."""
    result = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60)
    match = re.search(r"version (\S+)", result.stdout + result.stderr)
    if not match:
        raise BinariesError(f"{path} --version printed no version: {(result.stdout + result.stderr)[:200]!r}")
    return match.group(1)


def main(argv: list[str]) -> int:
    if argv not in (["build"], ["list"]):
        print("usage: python -m tools.binaries build|list", file=sys.stderr)
        return 2
    try:
        if argv == ["build"]:
            for release in all_releases():
                build(release)
        else:
            for stack in committed_stacks():
                for release in deployed(stack).values():
                    state = "built" if release.built() else "not built"
                    print(f"{stack}: {release} ({release.image}) {state}: "
                          + " ".join(str(release.path(c).relative_to(PROJECT_DIR)) for c in release.product.commands))
    except BinariesError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
