"""CloudFormation operations the deploy script is made of: change sets, event streaming, failures.

Works the same against AWS and the local emulator: every function takes a boto3 CloudFormation
client and a ``poll`` interval (seconds); nothing here knows which one it talks to.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
NO_CHANGE_REASONS = ("didn't contain changes", "No updates are to be performed")
SUCCESS = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"}
FAILURE = {"CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "UPDATE_FAILED", "UPDATE_ROLLBACK_COMPLETE",
           "UPDATE_ROLLBACK_FAILED", "DELETE_FAILED", "IMPORT_ROLLBACK_COMPLETE", "IMPORT_ROLLBACK_FAILED"}
NEEDS_DELETE = {"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "DELETE_FAILED"}
CANCELLED = "Resource creation cancelled"


class StackError(Exception):
    """A stack operation failed; the message is the one line to show the user."""


@dataclass(frozen=True)
class Change:
    action: str
    logical_id: str
    resource_type: str
    replacement: str


@dataclass
class ChangeSetPlan:
    """A created change set, waiting for review and execution."""

    region: str
    stack_name: str
    stack_id: str
    change_set_id: str
    change_set_type: str  # CREATE | UPDATE
    changes: list[Change] = field(default_factory=list)
    no_changes: bool = False
    parameters: dict[str, str] = field(default_factory=dict)  # what this change set deploys
    previous_parameters: dict[str, str] = field(default_factory=dict)  # what the stack has now (UPDATE)


def stack_status(cfn, stack_name: str) -> str | None:
    """The stack's status, or None when no such (undeleted) stack exists."""
    try:
        stacks = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise
    return stacks[0]["StackStatus"] if stacks else None


def delete_stack(cfn, stack_name: str, poll: float, timeout: float = 3600) -> None:
    cfn.delete_stack(StackName=stack_name)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = stack_status(cfn, stack_name)
        if status in (None, "DELETE_COMPLETE"):
            return
        if status == "DELETE_FAILED":
            raise StackError(f"deleting stack {stack_name} failed; delete it in the console and retry")
        time.sleep(poll)
    raise StackError(f"stack {stack_name} was not deleted within {timeout:.0f}s")


def change_set_type_for(stack_name: str, status: str | None, replace_failed: bool, cfn, poll: float) -> str:
    """CREATE or UPDATE; deals with a stack left over by a failed first deploy."""
    if status is None:
        return "CREATE"
    if status == "REVIEW_IN_PROGRESS":  # an earlier change set was never executed: start clean
        delete_stack(cfn, stack_name, poll)
        return "CREATE"
    if status in NEEDS_DELETE:
        if not replace_failed:
            raise StackError(
                f"stack {stack_name} is in {status} (its first deploy failed and was rolled back); it must be "
                "deleted before it can be deployed again: re-run with --replace-failed (or REPLACE_FAILED=yes) "
                "to delete it and deploy afresh")
        print(f"deploy: deleting {stack_name} ({status}) because --replace-failed was given")
        delete_stack(cfn, stack_name, poll)
        return "CREATE"
    if status.endswith("_IN_PROGRESS"):
        raise StackError(f"stack {stack_name} is busy ({status}); wait for that operation to finish and retry")
    if status == "UPDATE_ROLLBACK_FAILED":
        raise StackError(f"stack {stack_name} is in UPDATE_ROLLBACK_FAILED; run continue-update-rollback first")
    return "UPDATE"


def list_changes(cfn, change_set_id: str, prefix: str = "", depth: int = 0) -> tuple[dict, list[Change]]:
    """The change set's page and its changes, nested stacks' changes included as Parent/Child rows."""
    changes: list[Change] = []
    kwargs = {"ChangeSetName": change_set_id}
    while True:
        page = cfn.describe_change_set(**kwargs)
        for item in page.get("Changes", []):
            rc = item.get("ResourceChange", {})
            logical_id = prefix + rc.get("LogicalResourceId", "?")
            changes.append(Change(rc.get("Action", "?"), logical_id, rc.get("ResourceType", "?"),
                                  rc.get("Replacement") or "-"))
            nested = rc.get("ChangeSetId")  # set with IncludeNestedStacks for a nested stack's own change set
            if nested and depth < 5 and page.get("Status") == "CREATE_COMPLETE":
                changes.extend(list_changes(cfn, nested, f"{logical_id}/", depth + 1)[1])
        if not page.get("NextToken"):
            return page, changes
        kwargs["NextToken"] = page["NextToken"]


def create_change_set(cfn, *, region: str, stack_name: str, change_set_name: str, change_set_type: str,
                      template: dict[str, str], parameters: dict[str, str], tags: dict[str, str],
                      poll: float, role_arn: str = "", timeout: float = 900,
                      description: str = "by inference-deploy") -> ChangeSetPlan:
    """Create a change set and wait until it is ready (or known to contain no changes).

    ``template`` is {"TemplateURL": ...} or {"TemplateBody": ...}.
    """
    try:
        created = cfn.create_change_set(
            StackName=stack_name, ChangeSetName=change_set_name, ChangeSetType=change_set_type,
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(parameters.items())],
            Capabilities=CAPABILITIES, IncludeNestedStacks=True,
            Tags=[{"Key": k, "Value": v} for k, v in sorted(tags.items())],
            Description=f"{change_set_type} {description}", **template,
            **({"RoleARN": role_arn} if role_arn else {}),
        )
    except ClientError as exc:
        if any(r in str(exc) for r in NO_CHANGE_REASONS):
            return ChangeSetPlan(region, stack_name, stack_name, "", change_set_type, no_changes=True)
        raise StackError(f"{stack_name} ({region}): creating the change set failed: "
                         f"{exc.response['Error'].get('Message', exc)}") from exc
    plan = ChangeSetPlan(region, stack_name, created["StackId"], created["Id"], change_set_type,
                         parameters=dict(parameters), previous_parameters=_stack_parameters(cfn, stack_name)
                         if change_set_type == "UPDATE" else {})
    deadline = time.monotonic() + timeout
    while True:
        page, changes = list_changes(cfn, plan.change_set_id)
        status = page.get("Status")
        if status == "CREATE_COMPLETE":
            plan.changes = changes
            return plan
        if status == "FAILED":
            reason = page.get("StatusReason") or "no reason given"
            if any(r in reason for r in NO_CHANGE_REASONS):
                plan.no_changes = True
                return plan
            raise StackError(f"{stack_name} ({region}): change set failed: {reason}")
        if time.monotonic() > deadline:
            raise StackError(f"{stack_name} ({region}): change set still {status} after {timeout:.0f}s")
        time.sleep(poll)


def _stack_parameters(cfn, stack_name: str) -> dict[str, str]:
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", []) or []}


def discard(cfn, plan: ChangeSetPlan, poll: float) -> None:
    """Delete an unexecuted change set, and the empty stack a CREATE change set made."""
    if plan.change_set_id:
        cfn.delete_change_set(ChangeSetName=plan.change_set_id)
    if plan.change_set_type == "CREATE" and stack_status(cfn, plan.stack_id) == "REVIEW_IN_PROGRESS":
        delete_stack(cfn, plan.stack_id, poll)


def _change_sets(cfn, stack_name: str) -> list[dict]:
    summaries, kwargs = [], {"StackName": stack_name}
    while True:
        page = cfn.list_change_sets(**kwargs)
        # (The emulator lists every stack's change sets; AWS only the named stack's.)
        summaries += [s for s in page.get("Summaries", []) if stack_name in (s.get("StackName"), s.get("StackId"))]
        if not page.get("NextToken"):
            return summaries
        kwargs["NextToken"] = page["NextToken"]


def pending_deploys(cfn, stack_name: str, own_name: str, prefix: str = "deploy-",
                    max_age: dt.timedelta = dt.timedelta(hours=2)) -> list[str]:
    """Unexecuted change sets of ANOTHER deploy run on this stack, younger than ``max_age`` (a run elsewhere is
    between planning and executing); older ones are leftovers of a run that died and do not block."""
    if stack_status(cfn, stack_name) is None:
        return []
    now, found = dt.datetime.now(dt.UTC), []
    for summary in _change_sets(cfn, stack_name):
        name, created = summary.get("ChangeSetName", ""), summary.get("CreationTime")
        if not name.startswith(prefix) or name == own_name or summary.get("ExecutionStatus") != "AVAILABLE":
            continue
        if created and now - created > max_age:
            continue
        found.append(f"{name} (created {created:%Y-%m-%d %H:%M:%S} UTC)" if created else name)
    return found


def discard_run(cfn, stack_name: str, change_set_name: str, poll: float) -> list[str]:
    """Delete this run's change sets on ``stack_name``, and the stack too when it is an empty
    REVIEW_IN_PROGRESS stack with nothing else pending; return what was removed (for the one-line report).

    Works by name, so a change set whose creation was interrupted before its id came back is found too.
    A caller that may not delete stacks (the plan role) keeps the empty stack; it is said so.
    """
    status = stack_status(cfn, stack_name)
    if status is None:
        return []
    removed = []
    for summary in _change_sets(cfn, stack_name):
        if summary.get("ChangeSetName") == change_set_name and summary.get("ExecutionStatus") != "EXECUTE_COMPLETE":
            cfn.delete_change_set(ChangeSetName=summary["ChangeSetId"])
            removed.append(f"change set {change_set_name} of {stack_name}")
    if status == "REVIEW_IN_PROGRESS" and not _change_sets(cfn, stack_name):
        try:
            delete_stack(cfn, stack_name, poll)
            removed.append(f"empty stack {stack_name} (REVIEW_IN_PROGRESS)")
        except ClientError as exc:
            removed.append(f"NOT the empty stack {stack_name} ({exc.response['Error'].get('Code')}); the next "
                           "deploy replaces it")
    return removed


def format_changes(plan: ChangeSetPlan) -> str:
    title = f"{plan.stack_name} ({plan.region}) - {plan.change_set_type}"
    if plan.no_changes:
        return f"{title}: no changes"
    header = ("Action", "Logical ID", "Type", "Replacement")
    rows = [(c.action, c.logical_id, c.resource_type, c.replacement) for c in plan.changes] or [("-",) * 4]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(4)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    body = [line.format(*header), line.format(*("-" * w for w in widths)), *(line.format(*r) for r in rows)]
    return "\n".join([title, *body])


def markdown_changes(plan: ChangeSetPlan) -> str:
    title = f"### {plan.stack_name} ({plan.region}) - {plan.change_set_type}"
    if plan.no_changes:
        return f"{title}\n\nNo changes.\n"
    rows = "\n".join(f"| {c.action} | `{c.logical_id}` | {c.resource_type} | {c.replacement} |" for c in plan.changes)
    return f"{title}\n\n| Action | Logical ID | Type | Replacement |\n|---|---|---|---|\n{rows}\n"


def _event_ids(cfn, stack_name: str) -> set[str]:
    return {e["EventId"] for e in cfn.describe_stack_events(StackName=stack_name).get("StackEvents", [])}


def execute(cfn, plan: ChangeSetPlan, poll: float, echo: Callable[[str], None] = print,
            timeout: float = 7200) -> str:
    """Execute the change set and stream new stack events until the stack settles; return its status."""
    seen = _event_ids(cfn, plan.stack_id)
    cfn.execute_change_set(ChangeSetName=plan.change_set_id)
    total = max(sum("/" not in c.logical_id for c in plan.changes), 1)  # events stream the root stack only
    return follow(cfn, plan.stack_id, plan.stack_name, label=f"{plan.stack_name} ({plan.region})", seen=seen,
                  total=total, poll=poll, echo=echo, timeout=timeout)


def follow(cfn, stack_id: str, stack_name: str, *, label: str, seen: set[str], total: int, poll: float,
           echo: Callable[[str], None], timeout: float) -> str:
    """Print the stack's new events with a progress counter until it settles; return its final status."""
    done: set[str] = set()
    deadline = time.monotonic() + timeout
    while True:
        status = stack_status(cfn, stack_id) or "DELETE_COMPLETE"
        events = cfn.describe_stack_events(StackName=stack_id).get("StackEvents", [])
        for event in reversed(events):  # the API lists newest first
            if event["EventId"] in seen:
                continue
            seen.add(event["EventId"])
            if event["ResourceStatus"].endswith("_COMPLETE") and event["LogicalResourceId"] != stack_name:
                done.add(event["LogicalResourceId"])
            reason = f"  {event['ResourceStatusReason']}" if event.get("ResourceStatusReason") else ""
            echo(f"  [{min(len(done), total):>3}/{total}] {event['Timestamp']:%H:%M:%S} "
                 f"{event['ResourceStatus']:<28} {event['ResourceType']:<40} {event['LogicalResourceId']}{reason}")
        if status in SUCCESS or status in FAILURE or status == "DELETE_COMPLETE":
            return status
        if time.monotonic() > deadline:
            raise StackError(f"{label}: still {status} after {timeout:.0f}s")
        time.sleep(poll)


def delete_and_follow(cfn, stack_name: str, label: str, poll: float, *, echo: Callable[[str], None] = print,
                      timeout: float = 7200) -> str:
    """Delete the stack, streaming its events; DELETE_COMPLETE or DELETE_FAILED (see first_failure)."""
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    stack_id = stack["StackId"]  # by id: a deleted stack is no longer found by name
    seen = _event_ids(cfn, stack_id)
    total = max(len(cfn.describe_stack_resources(StackName=stack_id).get("StackResources", [])), 1)
    cfn.delete_stack(StackName=stack_id)
    return follow(cfn, stack_id, stack_name, label=label, seen=seen, total=total, poll=poll, echo=echo,
                  timeout=timeout)


@dataclass(frozen=True)
class Retained:
    stack: str
    logical_id: str
    resource_type: str
    physical_id: str
    reason: str


def retained_resources(cfn, stack_name: str, depth: int = 0) -> list[Retained]:
    """Resources that deleting the stack leaves behind on purpose (DeletionPolicy Retain/Snapshot), nested
    stacks included, each with the template's stated reason (its Metadata.Reason) when there is one."""
    import json

    body = cfn.get_template(StackName=stack_name).get("TemplateBody") or {}
    template = json.loads(body) if isinstance(body, str) and body.lstrip().startswith("{") else body
    if isinstance(template, str):  # a YAML body: read it with the short-form tags, as the deploy does
        from cfnlint.decode import cfn_yaml

        template = cfn_yaml.loads(template)
    resources = template.get("Resources") or {}
    kept = []
    for row in cfn.describe_stack_resources(StackName=stack_name).get("StackResources", []):
        logical, physical = row.get("LogicalResourceId", "?"), row.get("PhysicalResourceId") or ""
        declared = resources.get(logical) or {}
        policy = declared.get("DeletionPolicy", "Delete")
        if row.get("ResourceType") == "AWS::CloudFormation::Stack" and physical and depth < 5:
            kept += retained_resources(cfn, physical, depth + 1)
        elif physical and policy in ("Retain", "RetainExceptOnCreate", "Snapshot"):
            why = " ".join(str((declared.get("Metadata") or {}).get("Reason", "")).split())
            what = "a final snapshot is kept" if policy == "Snapshot" else f"DeletionPolicy {policy}"
            kept.append(Retained(stack_name, logical, row.get("ResourceType", "?"), physical,
                                 f"{what}{': ' + why if why else ''}"))
    return kept


def first_failure(cfn, stack_name: str, depth: int = 0) -> tuple[str, str, str] | None:
    """(logical id, type, reason) of the earliest failed resource, looking inside nested stacks."""
    events = list(reversed(cfn.describe_stack_events(StackName=stack_name).get("StackEvents", [])))
    start = max((i for i, e in enumerate(events)
                 if e["LogicalResourceId"] == e.get("StackName") and e["ResourceType"] == "AWS::CloudFormation::Stack"
                 and e["ResourceStatus"] in ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "REVIEW_IN_PROGRESS")),
                default=0)
    for event in events[start:]:
        if not event["ResourceStatus"].endswith("_FAILED") or CANCELLED in (event.get("ResourceStatusReason") or ""):
            continue
        if event["LogicalResourceId"] == event.get("StackName"):
            continue  # the stack's own summary line; the resource line is more precise
        nested = event.get("PhysicalResourceId")
        if event["ResourceType"] == "AWS::CloudFormation::Stack" and nested and depth < 5:
            try:
                inner = first_failure(cfn, nested, depth + 1)
            except ClientError:
                inner = None
            if inner:
                return inner
        return event["LogicalResourceId"], event["ResourceType"], event.get("ResourceStatusReason") or "no reason given"
    return None


def outputs(cfn, stack_name: str) -> list[tuple[str, str]]:
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    return [(o["OutputKey"], o.get("OutputValue", "")) for o in stack.get("Outputs", []) or []]


def not_created(cfn, stack_name: str, depth: int = 0) -> list[tuple[str, str, str]]:
    """(stack, logical id, type) of every resource listed without a physical id, nested stacks included.

    Against AWS a completed stack has none; the emulator lists resource types it skipped this way.
    """
    missing = []
    for row in cfn.describe_stack_resources(StackName=stack_name).get("StackResources", []):
        physical = row.get("PhysicalResourceId")
        if not physical:
            missing.append((stack_name, row.get("LogicalResourceId", "?"), row.get("ResourceType", "?")))
        elif row.get("ResourceType") == "AWS::CloudFormation::Stack" and depth < 5:
            missing.extend(not_created(cfn, physical, depth + 1))
    return missing
