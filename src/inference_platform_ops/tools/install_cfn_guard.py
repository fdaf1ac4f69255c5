"""Install the cfn-guard 3.1.1 binary into .tools/bin from a PyPI wheel.

cfn-guard is published on GitHub releases, which CI and this project must not download from.
The jsii wheel ``cdklabs-cdk-validator-cfnguard`` on PyPI ships the same binary inside a
``.tgz``; we fetch that wheel with pip (so only the package registry is used), check its
sha256 against the pin below, and extract ``package/bin/ubuntu/<arch>/cfn-guard``.

The same verified archive ships the AWS Control Tower proactive controls as cfn-guard rules
(``package/rules/control-tower/cfn-guard/<service>/ct-*.guard`` with one metadata JSON per control
under ``.../metadata/``); ``--rules-dest`` extracts them, with the package's LICENSE, for
``make compliance``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import platform
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

WHEEL_REQUIREMENT = "cdklabs-cdk-validator-cfnguard==0.0.62"
WHEEL_SHA256 = "83c9c9a086de47637611f414ca90200db97e7b8cd3c4a69475b5f81034bd4b45"
EXPECTED_VERSION = "3.1.1"
CONTROL_TOWER_PREFIX = "package/rules/control-tower/"
#: The catalog of the pinned wheel: fewer rules means a broken or different archive.
EXPECTED_CONTROL_TOWER_RULES = 237
ARCHES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def binary_member(machine: str) -> str:
    arch = ARCHES.get(machine.lower())
    if arch is None:
        raise SystemExit(f"cfn-guard: unsupported machine '{machine}' (supported: {', '.join(sorted(ARCHES))})")
    return f"package/bin/ubuntu/{arch}/cfn-guard"


def download_wheel(cache: Path) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache.glob("cdklabs_cdk_validator_cfnguard-0.0.62-*.whl"))
    if not wheels:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
             "--dest", str(cache), WHEEL_REQUIREMENT],
            check=True,
        )
        wheels = sorted(cache.glob("cdklabs_cdk_validator_cfnguard-0.0.62-*.whl"))
    if not wheels:
        raise SystemExit(f"cfn-guard: pip did not produce a wheel for {WHEEL_REQUIREMENT} in {cache}")
    return wheels[0]


def _jsii_payload(wheel: Path) -> tuple[str, bytes]:
    with zipfile.ZipFile(wheel) as archive:
        tgz_names = [n for n in archive.namelist() if n.endswith(".jsii.tgz")]
        if len(tgz_names) != 1:
            raise SystemExit(f"cfn-guard: expected one .jsii.tgz in {wheel.name}, found {tgz_names}")
        return tgz_names[0], archive.read(tgz_names[0])


def extract_control_tower_rules(wheel: Path, target: Path) -> int:
    """Replace ``target`` with the wheel's Control Tower catalog (rules, metadata, LICENSE); returns the rule count.

    Only regular files under the catalog prefix are written, each to a path checked to stay inside
    ``target`` (no links, no ``..``): the archive is verified, but extraction stays strict anyway.
    """
    tgz_name, payload = _jsii_payload(wheel)
    staging = target.with_name(target.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    rules = 0
    with tarfile.open(fileobj=io.BytesIO(payload), mode="r:gz") as tar:
        for member in tar.getmembers():
            if member.name == "package/LICENSE":
                relative = "LICENSE"
            elif member.name.startswith(CONTROL_TOWER_PREFIX) and member.isfile():
                relative = member.name.removeprefix(CONTROL_TOWER_PREFIX)
            else:
                continue
            destination = (staging / relative).resolve()
            if not member.isfile() or not destination.is_relative_to(staging.resolve()):
                raise SystemExit(f"cfn-guard: refusing archive member {member.name} of {tgz_name}")
            destination.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            if source is None:
                raise SystemExit(f"cfn-guard: archive member {member.name} of {tgz_name} has no content")
            destination.write_bytes(source.read())
            rules += relative.endswith(".guard")
    if rules != EXPECTED_CONTROL_TOWER_RULES:
        shutil.rmtree(staging, ignore_errors=True)
        raise SystemExit(f"cfn-guard: expected {EXPECTED_CONTROL_TOWER_RULES} Control Tower rules in {tgz_name}, "
                         f"found {rules}")
    shutil.rmtree(target, ignore_errors=True)
    staging.replace(target)
    return rules


def extract_binary(wheel: Path, member: str, target: Path) -> None:
    tgz_name, payload = _jsii_payload(wheel)
    with tarfile.open(fileobj=io.BytesIO(payload), mode="r:gz") as tar:
        try:
            source = tar.extractfile(member)
        except KeyError:
            source = None
        if source is None:
            raise SystemExit(f"cfn-guard: {member} not found in {tgz_name}")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(source.read())
    tmp.chmod(0o755)
    tmp.replace(target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", default=".tools/bin/cfn-guard", type=Path)
    parser.add_argument("--cache", default=".tools/cache", type=Path)
    parser.add_argument("--rules-dest", type=Path, default=None,
                        help="also extract the Control Tower proactive controls into this directory")
    parser.add_argument("--rules-only", action="store_true", help="extract the rules, not the binary")
    args = parser.parse_args(argv)

    wheel = download_wheel(args.cache)
    actual = sha256_of(wheel)
    if actual != WHEEL_SHA256:
        wheel.unlink()
        raise SystemExit(
            f"cfn-guard: sha256 mismatch for {wheel.name}: expected {WHEEL_SHA256}, got {actual}; "
            "the corrupted download was removed, run 'make install' again"
        )
    if args.rules_dest is not None:
        count = extract_control_tower_rules(wheel, args.rules_dest)
        print(f"installed {count} Control Tower proactive controls -> {args.rules_dest} (wheel sha256 verified)")
    if args.rules_only:
        return 0
    extract_binary(wheel, binary_member(platform.machine()), args.dest)
    version = subprocess.run(
        [str(args.dest), "--version"], check=True, capture_output=True, text=True
    ).stdout.strip()
    if EXPECTED_VERSION not in version:
        raise SystemExit(f"cfn-guard: expected version {EXPECTED_VERSION}, binary says '{version}'")
    print(f"installed {version} -> {args.dest} (wheel sha256 verified)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
