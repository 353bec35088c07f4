"""Who may do what: users, bucket owners, canned ACLs and bucket policies, decided in one
place for both doors (the gateway for S3 requests, the nameserver for ``plen`` requests).

Rule 1 (the order of a decision): the root user may do everything. Otherwise an explicit
Deny in the bucket's policy refuses; the bucket's owner may; an explicit Allow in the policy
may; then the ACLs: the bucket's for listing and writing, the object's for reading.
Rule 2: a policy governs the four data actions (``s3:GetObject``, ``s3:PutObject``,
``s3:ListBucket``, ``s3:DeleteObject``; ``s3:*`` names all four). Everything else about a
bucket (its ACL, its policy, deleting it) belongs to its owner and root, so no policy can
lock the owner out of repairing it.
Rule 3: every object of a bucket is owned by the bucket's owner (S3's "bucket owner
enforced" ownership), so one owner id is reported for a bucket and everything in it.
Rule 4: a user's canonical id is ``owner_id(name)``, the same in every listing and ACL.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from plen.wire.access import BucketAccess  # what decides access to one bucket

GET_OBJECT = "s3:GetObject"
PUT_OBJECT = "s3:PutObject"
LIST_BUCKET = "s3:ListBucket"
DELETE_OBJECT = "s3:DeleteObject"
DATA_ACTIONS = frozenset({GET_OBJECT, PUT_OBJECT, LIST_BUCKET, DELETE_OBJECT})
OWNER_ONLY = "owner"  # the action of everything Rule 2 leaves to the owner

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
OWNER = "owner"

Permission = Literal["READ", "WRITE", "FULL_CONTROL"]
# Canned ACL -> grants (grantee, permission); the grantee OWNER is the bucket's owner.
CANNED: dict[str, tuple[tuple[str, Permission], ...]] = {
    "private": ((OWNER, "FULL_CONTROL"),),
    "public-read": ((OWNER, "FULL_CONTROL"), (ALL_USERS, "READ")),
    "public-read-write": ((OWNER, "FULL_CONTROL"), (ALL_USERS, "READ"), (ALL_USERS, "WRITE")),
    "authenticated-read": ((OWNER, "FULL_CONTROL"), (AUTHENTICATED_USERS, "READ")),
}
# On objects S3 also takes these; with the bucket's owner owning every object they are private.
OBJECT_ONLY = {"bucket-owner-read": "private", "bucket-owner-full-control": "private"}
MAX_POLICY_BYTES = 20 * 1024  # S3's limit for a bucket policy
USER_NAME = re.compile(r"[A-Za-z0-9+=,.@_-]{1,64}")  # IAM's rule for user names


def owner_id(user: str) -> str:
    return hashlib.sha256(user.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request comes from: a user, or nobody (``user`` None: anonymous)."""

    user: str | None
    root: bool = False

    @property
    def anonymous(self) -> bool:
        return self.user is None


ANONYMOUS = Principal(None)


def canned_acl(value: str, *, on_object: bool = False) -> str | None:
    """The stored form of a canned ACL name, or None when S3 has no such canned ACL here."""
    if value in CANNED:
        return value
    if on_object:
        return OBJECT_ONLY.get(value)
    return None


def acl_grants(acl: str) -> tuple[tuple[str, Permission], ...]:
    return CANNED.get(acl, CANNED["private"])


def _acl_allows(acl: str | None, principal: Principal, permission: Permission) -> bool:
    for grantee, granted in acl_grants(acl or "private"):
        if granted != permission and granted != "FULL_CONTROL":
            continue
        if grantee == ALL_USERS or (grantee == AUTHENTICATED_USERS and not principal.anonymous):
            return True
    return False


# ------------------------------------------------------------------------------ policies


class PolicyError(ValueError):
    """A bucket policy that is malformed or uses what Plenilune does not support."""


@dataclass(frozen=True, slots=True)
class Statement:
    allow: bool
    anyone: bool  # Principal "*"
    users: frozenset[str]  # user names (from IAM user ARNs)
    ids: frozenset[str]  # canonical ids (CanonicalUser principals)
    actions: frozenset[str]
    resources: tuple[re.Pattern[str], ...]

    def matches(self, principal: Principal, action: str, resource: str) -> bool:
        if action not in self.actions:
            return False
        if not (self.anyone or (principal.user is not None and (
                principal.user in self.users or owner_id(principal.user) in self.ids))):
            return False
        return any(r.fullmatch(resource) for r in self.resources)


@dataclass(frozen=True, slots=True)
class Policy:
    statements: tuple[Statement, ...]

    def decide(self, principal: Principal, action: str, resource: str) -> bool | None:
        """False: explicitly denied; True: explicitly allowed; None: the policy is silent."""
        decision = None
        for statement in self.statements:
            if statement.matches(principal, action, resource):
                if not statement.allow:
                    return False
                decision = True
        return decision


def _as_list(value: Any, what: str) -> list[Any]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(v, str) for v in items):
        raise PolicyError(f"{what} must be a string or a non-empty list of strings")
    return items


_ARN_USER = re.compile(r"arn:aws:iam::[^:]*:user/(?:[^/]*/)*([A-Za-z0-9+=,.@_-]{1,64})")
_ARN_ROOT = re.compile(r"arn:aws:iam::[^:]*:root")


def _principals(value: Any) -> tuple[bool, set[str], set[str]]:
    if value == "*":
        return True, set(), set()
    if not isinstance(value, dict) or not value or set(value) - {"AWS", "CanonicalUser"}:
        raise PolicyError("Invalid principal in policy: use \"*\", {\"AWS\": ...} or "
                          "{\"CanonicalUser\": ...}")
    anyone, users, ids = False, set(), set()
    for arn in _as_list(value.get("AWS", []) or [], "Principal AWS") if "AWS" in value else []:
        if arn == "*":
            anyone = True
        elif m := _ARN_USER.fullmatch(arn):
            users.add(m.group(1))
        elif not _ARN_ROOT.fullmatch(arn):  # the account's root: root may do everything
            raise PolicyError(f"Invalid principal in policy: {arn!r} (expected \"*\" or "
                              f"arn:aws:iam::<account>:user/<name>)")
    if "CanonicalUser" in value:
        for cid in _as_list(value["CanonicalUser"], "Principal CanonicalUser"):
            if not re.fullmatch(r"[0-9a-f]{64}", cid):
                raise PolicyError(f"Invalid principal in policy: canonical id {cid!r}")
            ids.add(cid)
    return anyone, users, ids


def _actions(value: Any) -> frozenset[str]:
    by_lower = {a.lower(): a for a in DATA_ACTIONS}
    actions: set[str] = set()
    for action in _as_list(value, "Action"):
        name = action.lower()
        if name in ("s3:*", "*"):
            actions |= DATA_ACTIONS
        elif name in by_lower:
            actions.add(by_lower[name])
        else:
            raise PolicyError(f"Policy has invalid action: {action!r} (supported: "
                              f"{', '.join(sorted(DATA_ACTIONS))} and s3:*)")
    return frozenset(actions)


def _resources(value: Any, bucket: str) -> tuple[re.Pattern[str], ...]:
    patterns = []
    for arn in _as_list(value, "Resource"):
        if not arn.startswith("arn:aws:s3:::"):
            raise PolicyError(f"Policy has invalid resource: {arn!r}")
        bucket_part = arn[len("arn:aws:s3:::"):].split("/", 1)[0]
        if not fnmatch.fnmatchcase(bucket, bucket_part):
            raise PolicyError(f"Policy has invalid resource: {arn!r} is not in bucket "
                              f"{bucket!r}")
        # Only * and ? are wildcards (as in IAM); everything else is itself.
        pattern = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in arn)
        patterns.append(re.compile(pattern, re.S))
    return tuple(patterns)


_UNSUPPORTED = ("Condition", "NotPrincipal", "NotAction", "NotResource")


def _statement(raw: Any, bucket: str) -> Statement:
    if not isinstance(raw, dict):
        raise PolicyError("each Statement must be an object")
    for name in _UNSUPPORTED:
        if name in raw:
            raise PolicyError(f"{name} is not supported in bucket policies here")
    unknown = set(raw) - {"Sid", "Effect", "Principal", "Action", "Resource"}
    if unknown:
        raise PolicyError(f"Unknown field(s) in policy statement: {', '.join(sorted(unknown))}")
    for required in ("Effect", "Principal", "Action", "Resource"):
        if required not in raw:
            raise PolicyError(f"Missing required field {required}")
    if raw["Effect"] not in ("Allow", "Deny"):
        raise PolicyError("Invalid effect: Effect must be Allow or Deny")
    anyone, users, ids = _principals(raw["Principal"])
    return Statement(allow=raw["Effect"] == "Allow", anyone=anyone, users=frozenset(users),
                     ids=frozenset(ids), actions=_actions(raw["Action"]),
                     resources=_resources(raw["Resource"], bucket))


def parse_policy(text: str, bucket: str) -> Policy:
    """Check a bucket policy document; raise PolicyError saying what is wrong."""
    if len(text.encode()) > MAX_POLICY_BYTES:
        raise PolicyError("Policies must be no more than 20 KB")
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        raise PolicyError("Policies must be valid JSON") from None
    if not isinstance(doc, dict):
        raise PolicyError("Policies must be a JSON object")
    unknown = set(doc) - {"Version", "Id", "Statement"}
    if unknown:
        raise PolicyError(f"Unknown field(s) in policy: {', '.join(sorted(unknown))}")
    if doc.get("Version", "2012-10-17") not in ("2012-10-17", "2008-10-17"):
        raise PolicyError("The policy must contain a valid version string")
    raw = doc.get("Statement")
    statements = raw if isinstance(raw, list) else [raw] if raw is not None else []
    if not statements:
        raise PolicyError("Missing required field Statement")
    return Policy(tuple(_statement(s, bucket) for s in statements))


@functools.lru_cache(maxsize=1024)
def _cached_policy(text: str, bucket: str) -> Policy:
    return parse_policy(text, bucket)


# ------------------------------------------------------------------------------ decisions


def resource(bucket: str, key: str | None = None) -> str:
    return f"arn:aws:s3:::{bucket}" + (f"/{key}" if key is not None else "")


def allowed(principal: Principal, action: str, rules: BucketAccess, *, key: str | None = None,
            object_acl: str | None = None) -> bool:
    """May ``principal`` do ``action`` (a data action, or OWNER_ONLY) on the bucket or on
    ``key`` in it? ``object_acl``: the object's canned ACL, where reading it may help."""
    if principal.root:
        return True
    is_owner = principal.user is not None and principal.user == rules.owner
    if action not in DATA_ACTIONS:
        return is_owner
    decision = None
    if rules.policy:
        decision = _cached_policy(rules.policy, rules.bucket).decide(
            principal, action, resource(rules.bucket, key if action != LIST_BUCKET else None))
    if decision is False:
        return False
    if is_owner or decision:
        return True
    if action == LIST_BUCKET:
        return _acl_allows(rules.acl, principal, "READ")
    if action in (PUT_OBJECT, DELETE_OBJECT):
        return _acl_allows(rules.acl, principal, "WRITE")
    return _acl_allows(object_acl, principal, "READ")

