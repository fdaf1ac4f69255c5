"""`make destroy ENV=<env> CONFIRM=<stack name>`: delete a non-production environment's stacks.

Refuses ENV=production outright. Lists what it would delete (every stack of the env that exists: the
billing stack, then the regions in reverse order of the DR plan, secondary before primary, so nothing
fails over to a region that is going away) and deletes nothing unless CONFIRM names the env's StackName.
Each deletion streams its events; after it, every resource the templates keep on purpose (DeletionPolicy
Retain/Snapshot) is listed with the template's reason. The artifact bucket and its ``<env>/`` objects belong
to the bootstrap stack and stay. Works against the local emulator (ENV=local) like against AWS.

Exit codes: 0 destroyed (or nothing to destroy), 1 a deletion failed, 2 bad input, 3 refused, 4 busy, 130
interrupted (a deletion already started is left to CloudFormation).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from inference_platform_ops.deploy import stack_ops
from inference_platform_ops.deploy.aws_access import session_for
from inference_platform_ops.deploy.config import ConfigError, load_config
from inference_platform_ops.deploy.deploy import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_REFUSED,
    TEMPLATES,
    Deployer,
    build_targets,
    guarded,
)
from inference_platform_ops.deploy.locks import environment_lock
from inference_platform_ops.emulator import local_aws


def run(args: argparse.Namespace) -> int:
    if args.env == "production":
        print("destroy: REFUSED: production is never destroyed by `make destroy`; nothing was deleted")
        return EXIT_REFUSED
    config = load_config(args.env, args.templates_dir / "params")
    targets, _ = build_targets(config, args.templates_dir)  # what exists is deleted even if the params went bad
    endpoint = args.endpoint_url
    if args.env == "local" and not endpoint:
        state = local_aws.running_state()
        if state is None:
            print("destroy: the local emulator is not running: nothing to destroy (its state went with it)")
            return 0
        if problem := local_aws.port_mismatch(state):
            raise ConfigError(problem)
        endpoint = state["endpoint"]
    session = session_for(args.env, endpoint, targets[0].region)
    deployer = Deployer(args.env, endpoint, args.poll or (0.1 if endpoint else 5.0), session, verb="destroy")
    with environment_lock(args.env, f"make destroy ENV={args.env}", wait_s=args.lock_wait,
                          say=lambda message: print(f"destroy: {message}", flush=True)):
        existing = []
        for target in reversed(targets):  # billing, then the regions in reverse plan order
            status = stack_ops.stack_status(deployer.client("cloudformation", target.region), target.stack_name)
            if status is not None:
                existing.append((target, status))
        if not existing:
            print(f"destroy: nothing to destroy for {args.env}: none of its stacks exists")
            return 0
        for target, status in existing:
            print(f"destroy: would delete {target.stack_name} ({target.region}, {status})")
        if args.confirm != config["StackName"]:
            print(f"destroy: REFUSED: set CONFIRM={config['StackName']} to delete the stack(s) above; "
                  "nothing was deleted")
            return EXIT_REFUSED
        try:
            return delete_all(deployer, [t for t, _ in existing])
        except KeyboardInterrupt:
            print("destroy: interrupted; a deletion already started is finished by CloudFormation on its own")
            return EXIT_INTERRUPTED


def delete_all(deployer: Deployer, targets: list) -> int:
    retained: list[tuple[str, stack_ops.Retained]] = []
    for target in targets:
        cfn = deployer.client("cloudformation", target.region)
        kept = stack_ops.retained_resources(cfn, target.stack_name)
        print(f"destroy: deleting {target.stack_name} in {target.region}")
        status = stack_ops.delete_and_follow(cfn, target.stack_name, f"{target.stack_name} ({target.region})",
                                             deployer.poll)
        if status != "DELETE_COMPLETE":
            stack_id = cfn.describe_stacks(StackName=target.stack_name)["Stacks"][0]["StackId"]
            failure = stack_ops.first_failure(cfn, stack_id)
            cause = f"{failure[0]} ({failure[1]}): {failure[2]}" if failure else "no failed resource reported"
            print(f"destroy: FAILED {target.stack_name} ({target.region}) ended {status}; first failure: {cause}")
            return EXIT_FAILED
        retained += [(target.region, item) for item in kept]
    for region, item in retained:
        print(f"destroy: retained {item.logical_id} ({item.resource_type}) {item.physical_id} in {region}: "
              f"{item.reason}")
    print(f"destroy: {deployer.env} destroyed: {len(targets)} stack(s) deleted, {len(retained)} resource(s) "
          "retained; the artifact bucket (bootstrap stack) keeps its objects")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Delete a non-production environment's stacks.")
    parser.add_argument("--env", default=os.environ.get("ENV", "local"))
    parser.add_argument("--confirm", default=os.environ.get("CONFIRM", ""),
                        help="the env's StackName, to confirm the deletion (default $CONFIRM)")
    parser.add_argument("--endpoint-url", default=None, help="emulator endpoint (default: the running local one)")
    parser.add_argument("--templates-dir", type=Path, default=TEMPLATES)
    parser.add_argument("--poll", type=float, default=None, help="seconds between status polls")
    parser.add_argument("--lock-wait", type=float, default=float(os.environ.get("LOCK_WAIT", "600")))
    args = parser.parse_args(argv)
    return guarded("destroy", lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
