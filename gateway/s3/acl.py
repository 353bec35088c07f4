"""ACLs as S3 shows and takes them, over Plenilune's canned ACLs (plen/access.py).

Rule: an AccessControlPolicy body is accepted when its grants are exactly those of a canned
ACL (the owner's FULL_CONTROL, plus READ or WRITE for AllUsers or AuthenticatedUsers);
anything finer (grants to other users, READ_ACP, ...) is NotImplemented, never silently
reduced to something else.
"""

from __future__ import annotations

from gateway.s3.errors import S3Error
from gateway.s3.xml import Owner, _all, _children, _one, _parse
from plen.access import CANNED, OWNER


def _grantee(node: object) -> str:
    """OWNER-or-user id as given ("id:<hex>") or a group URI."""
    fields = _children(node)
    uri = _one(fields, "URI", required=False)
    if uri:
        return uri.strip()
    cid = _one(fields, "ID", required=False)
    if cid:
        return "id:" + cid.strip()
    raise S3Error("MalformedACLError", "The XML you provided was not well-formed or did not "
                  "validate against our published schema")


def parse_access_control_policy(body: bytes, owner: Owner) -> str:
    """An AccessControlPolicy document -> the canned ACL it amounts to."""
    root = _children(_parse(body, "AccessControlPolicy"))
    acl = _children(root.get("AccessControlList"))
    grants = set()
    for grant in _all(acl, "Grant"):
        fields = _children(grant)
        permission = (_one(fields, "Permission") or "").strip()
        grantee = _grantee(fields.get("Grantee"))
        grants.add((OWNER if grantee == "id:" + owner.id else grantee, permission))
    for name, canned in CANNED.items():
        if grants == set(canned):
            return name
    raise S3Error("NotImplemented", "Only ACLs that a canned ACL expresses (private, "
                  "public-read, public-read-write, authenticated-read) are supported")
