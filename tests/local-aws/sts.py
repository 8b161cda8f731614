"""STS AssumeRole as AWS refuses it, and assumed-role credentials that expire.

moto answers AssumeRole for any role. The emulator first checks what AWS checks: the role
exists in its account's IAM, and its trust policy allows the caller (by account, account
root, or the caller's own role ARN), with the `sts:ExternalId` condition met and no
matching Deny. Credentials it issues are remembered, so that a test can make them expire
(`POST /_local/sts/expire`) and a call signed with them then answers `ExpiredToken`.
"""

import json
import re
import threading
from urllib.parse import unquote

DENIED = "AccessDenied"
EXPIRED_MESSAGE = "The security token included in the request is expired"


class Sts:
    def __init__(self, default_account):
        self.default_account = default_account
        self.lock = threading.Lock()
        self.clear()

    def clear(self):
        with self.lock:
            # access key id -> {accessKeyId, secretAccessKey, sessionToken, roleArn, expired}
            self.issued = {}
            self.enforce = True

    # ---- control API

    def control(self, method, path, data):
        if (method, path) == ("GET", "/sts/credentials"):
            with self.lock:
                return 200, [dict(c) for c in self.issued.values()]
        if (method, path) == ("POST", "/sts/expire"):
            key = (data or {}).get("accessKeyId")
            with self.lock:
                for k, c in self.issued.items():
                    if key in (None, k):
                        c["expired"] = True
            return 200, {"ok": True}
        if (method, path) == ("POST", "/sts"):
            with self.lock:
                self.enforce = bool((data or {}).get("enforceTrust", True))
            return 200, {"ok": True}
        return None

    # ---- calls

    def expired(self, access_key):
        with self.lock:
            c = self.issued.get(access_key)
            return bool(c and c["expired"])

    def caller_arns(self, access_key, account):
        """The principals a caller is: its account, and its role when its keys came from
        AssumeRole."""
        with self.lock:
            c = self.issued.get(access_key)
        arns = {account, f"arn:aws:iam::{account}:root"}
        if c:
            arns.add(c["roleArn"])
        return arns, (c["roleArn"] if c else f"arn:aws:iam::{account}:root")

    def refusal(self, params, caller_account, access_key):
        """Why AssumeRole is refused, or None when the trust policy allows it."""
        with self.lock:
            enforce = self.enforce
        if not enforce:
            return None
        role = params.get("RoleArn", "")
        principals, caller = self.caller_arns(access_key, caller_account)
        denied = f"User: {caller} is not authorized to perform: sts:AssumeRole on resource: {role}"
        match = re.match(r"arn:aws[\w-]*:iam::(\d{12}):role/(?:.*/)?([\w+=,.@-]+)$", role)
        if not match:
            return denied
        policy = _trust_policy(match.group(1), role)
        if policy is None:
            return denied
        allowed = False
        for st in _list(policy.get("Statement")):
            if not _acts(st) or not _principal(st, principals):
                continue
            if st.get("Effect") == "Deny":
                return denied
            if _conditions_met(st.get("Condition"), params):
                allowed = True
        return None if allowed else denied

    def remember(self, body):
        """Keeps the credentials of a successful AssumeRole answer (moto's XML)."""
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)

        def tag(name):
            m = re.search(rf"<{name}>([^<]*)</{name}>", text)
            return m.group(1) if m else ""

        key = tag("AccessKeyId")
        if key:
            with self.lock:
                self.issued[key] = {"accessKeyId": key, "secretAccessKey": tag("SecretAccessKey"),
                                    "sessionToken": tag("SessionToken"), "roleArn": _role_of(tag("Arn")),
                                    "expiration": tag("Expiration"), "expired": False}


def _role_of(assumed_arn):
    """arn:aws:sts::<acct>:assumed-role/<name>/<session> -> arn:aws:iam::<acct>:role/<name>."""
    m = re.match(r"arn:(aws[\w-]*):sts::(\d{12}):assumed-role/([^/]+)/", assumed_arn)
    return f"arn:{m.group(1)}:iam::{m.group(2)}:role/{m.group(3)}" if m else assumed_arn


def _trust_policy(account, role_arn):
    from moto.iam.models import iam_backends
    try:
        role = iam_backends[account]["aws"].get_role_by_arn(role_arn)
    except Exception:
        return None
    doc = role.assume_role_policy_document
    if isinstance(doc, str):
        try:
            doc = json.loads(doc)
        except ValueError:
            doc = json.loads(unquote(doc))
    return doc


def _list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _acts(statement):
    return any(a in ("sts:AssumeRole", "sts:*", "*") for a in _list(statement.get("Action")))


def _principal(statement, principals):
    p = statement.get("Principal")
    if p == "*":
        return True
    if not isinstance(p, dict):
        return False
    return any(a == "*" or a in principals for a in _list(p.get("AWS")))


def _conditions_met(condition, params):
    """Only `StringEquals` on `sts:ExternalId` is understood; anything else refuses."""
    for operator, tests in (condition or {}).items():
        if operator != "StringEquals":
            return False
        for key, wanted in tests.items():
            if key.lower() != "sts:externalid":
                return False
            if params.get("ExternalId") not in _list(wanted):
                return False
    return True
