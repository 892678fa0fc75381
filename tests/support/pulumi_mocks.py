"""Run the whole Pulumi program under mocks and keep every resource it declares."""
from __future__ import annotations

import asyncio
import json
import os
import runpy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import rpc

PROJECT_DIR = Path(__file__).resolve().parents[2]
SECRET_SIG = rpc._special_sig_key if hasattr(rpc, "_special_sig_key") else "4dabf18193072939515e22adb298388d"


@dataclass(frozen=True)
class ExportedValue:
    value: Any
    secret: bool


@dataclass
class Declared:
    """One resource as `pulumi up` would send it: type, name, inputs, options."""
    type: str
    name: str
    inputs: dict              # secrets unwrapped (what the provider would receive)
    raw_inputs: dict          # secrets kept as Pulumi's secret envelopes
    provider: str
    parent: str
    urn: str
    dependencies: list
    retain_on_delete: bool
    delete_before_replace: bool
    hide_diffs: list


class CapturingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.declared: list[Declared] = []
        self.exports: dict = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        outputs = dict(args.inputs)
        if args.typ == "grafana:oss/dashboard:Dashboard":
            uid = json.loads(args.inputs["configJson"]).get("uid")
            outputs.update(uid=uid, url=f"https://grafana.test/d/{uid}", dashboardId=1.0)
        elif args.typ == "grafana:oss/folder:Folder":
            outputs.setdefault("uid", args.inputs.get("uid"))
        elif args.typ == "random:index/randomPassword:RandomPassword":
            outputs["result"] = "generated-" + args.name
        elif args.typ == "docker:index/remoteImage:RemoteImage":
            outputs["imageId"] = "sha256:" + args.inputs["name"]
        return [args.name + "-id", outputs]

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


class RecordingMonitor(pulumi.runtime.mocks.MockMonitor):
    """Keeps the raw (secret-preserving) inputs of each registration beside the mock's view."""

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        raw = rpc.deserialize_properties(request.object, keep_unknowns=True)
        self.mocks.declared.append(Declared(
            type=request.type, name=request.name, inputs=_unwrap(raw), raw_inputs=raw,
            provider=request.provider, parent=request.parent, urn=response.urn,
            dependencies=list(request.dependencies), retain_on_delete=request.retainOnDelete,
            delete_before_replace=request.deleteBeforeReplace, hide_diffs=list(request.hideDiffs)))
        return response



def _unwrap(value: Any) -> Any:
    """The same tree with every secret envelope replaced by its value."""
    if is_secret_envelope(value):
        return _unwrap(value["value"])
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


@dataclass
class ProgramRun:
    declared: list[Declared]
    exports: dict

    def of_type(self, type_token: str) -> list[Declared]:
        return [d for d in self.declared if d.type == type_token]

    def named(self, name: str) -> Declared:
        matches = [d for d in self.declared if d.name == name]
        assert len(matches) == 1, f"expected one resource named {name!r}, found {len(matches)}"
        return matches[0]


def run_program(stack: str, config: dict[str, Any], secret_keys: tuple[str, ...] = ()) -> ProgramRun:
    """Run __main__.py for `stack` with `config` (keys without the project prefix)."""
    mocks = CapturingMocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="scheduler-monitoring", stack=stack, preview=False, monitor=monitor)
    full = {f"scheduler-monitoring:{k}": (v if isinstance(v, str) else json.dumps(v)) for k, v in config.items()}
    pulumi.runtime.set_all_config(full, secret_keys=[f"scheduler-monitoring:{k}" for k in secret_keys])
    exported: dict[str, Any] = {}
    real_export = pulumi.export

    def record(name: str, value: Any) -> None:
        exported[name] = pulumi.Output.from_input(value)
        real_export(name, value)

    async def settle() -> None:
        # Awaited by pulumi.runtime.test, so every export is resolved (and its
        # secrecy known) before the run returns.
        for name, output in exported.items():
            mocks.exports[name] = ExportedValue(await output.future(), await output.is_secret())

    def program():
        runpy.run_path(str(PROJECT_DIR / "__main__.py"), run_name="__main__")
        return asyncio.ensure_future(settle())

    cwd = os.getcwd()
    os.chdir(PROJECT_DIR)
    pulumi.export = record
    try:
        pulumi.runtime.test(program)()
    finally:
        pulumi.export = real_export
        os.chdir(cwd)
    return ProgramRun(declared=mocks.declared, exports=mocks.exports)


def is_secret_envelope(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG) == "1b47061264138c4ac30d75fd1eb44270"


def strings_outside_secrets(value: Any):
    """Every string in an input tree that is not inside a secret envelope."""
    if is_secret_envelope(value):
        return
    if isinstance(value, dict):
        for v in value.values():
            yield from strings_outside_secrets(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings_outside_secrets(v)
    elif isinstance(value, str):
        yield value
