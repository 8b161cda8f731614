"""STS AssumeRole as AWS refuses it, and assumed-role credentials that expire.

moto answers AssumeRole for any role. The emulator first checks what AWS checks: the role
exists in its account's IAM, and its trust policy allows the caller (by account, account
root, the caller's ARN, or for assumed-role credentials the role's ARN), with the
`sts:ExternalId` condition met and no matching Deny. Credentials it issues are remembered
with their expiry, so that a call signed with them answers `ExpiredToken` once they have
expired, or once a test made them expire (`POST /_local/sts/expire`).
"""

import datetime
import fnmatch
import json
import re
import threading
import time
from urllib.parse import unquote

ROLE_ARN = re.compile(r"arn:aws[\w-]*:iam::(\d{12}):role/(?:.*/)?([\w+=,.@-]+)\Z")


class Sts:
    def __init__(self):
        self.lock = threading.Lock()
        # access key id -> {accessKeyId, secretAccessKey, sessionToken, roleArn, account,
        # expiration, expired, _expires (epoch seconds)}
        self.issued = {}
        self.settings()

    def settings(self):
        """Back to the default settings: trust policies are checked."""
        with self.lock:
            self.enforce = True

    def forget(self):
        """Forget the credentials issued so far (moto forgot them too)."""
        with self.lock:
            self.issued = {}

    # ---- control API

    def control(self, method, path, data):
        """(status, body) for /_local/sts*, or None for another path."""
        if (method, path) == ("GET", "/sts/credentials"):
            with self.lock:
                return 200, [self._shown(c) for c in self.issued.values()]
        if (method, path) == ("POST", "/sts/expire"):
            key = (data or {}).get("accessKeyId")
            with self.lock:
                if key is not None and key not in self.issued:
                    return 404, {"error": f"no credentials with access key id {key} were issued"}
                for k, c in self.issued.items():
                    if key in (None, k):
                        c["expired"] = True
            return 200, {"ok": True}
        if path == "/sts" and method in ("GET", "POST"):
            with self.lock:
                if method == "POST" and "enforceTrust" in (data or {}):
                    if not isinstance(data["enforceTrust"], bool):
                        raise ValueError("enforceTrust must be true or false")
                    self.enforce = data["enforceTrust"]
                return 200, {"enforceTrust": self.enforce} if method == "GET" else {"ok": True}
        return None

    def _shown(self, c):
        shown = {k: v for k, v in c.items() if not k.startswith("_")}
        shown["expired"] = self._is_expired(c)
        return shown

    @staticmethod
    def _is_expired(c):
        return c["expired"] or time.time() >= c["_expires"]

    # ---- calls

    def expired(self, access_key):
        """True for the access key of issued credentials that have expired."""
        with self.lock:
            c = self.issued.get(access_key) if access_key else None
            return bool(c) and self._is_expired(c)

    def refusal(self, params, call):
        """Why AssumeRole is refused (STS's AccessDenied message), or None when the role's
        trust policy allows the caller."""
        with self.lock:
            if not self.enforce:
                return None
        role = params.get("RoleArn", "")
        caller, principals = caller_principals(call)
        denied = f"User: {caller} is not authorized to perform: sts:AssumeRole on resource: {role}"
        match = ROLE_ARN.match(role)
        policy = _trust_policy(match.group(1), role) if match else None
        if not isinstance(policy, dict):
            return denied
        return None if _allows(policy, principals, params) else denied

    def remember(self, body, params):
        """Keeps the credentials of a successful AssumeRole answer (moto's XML)."""
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)

        def tag(name):
            m = re.search(rf"<{name}>([^<]*)</{name}>", text)
            return m.group(1) if m else ""

        key = tag("AccessKeyId")
        if not key:
            return
        role = params.get("RoleArn", "")
        expires = _epoch(tag("Expiration"))
        if expires is None:
            expires = time.time() + int(params.get("DurationSeconds") or 3600)
        with self.lock:
            self.issued[key] = {"accessKeyId": key, "secretAccessKey": tag("SecretAccessKey"),
                                "sessionToken": tag("SessionToken"), "roleArn": role,
                                "account": role.split(":")[4] if role.count(":") >= 5 else "",
                                "expiration": tag("Expiration"), "expired": False, "_expires": expires}


def caller_principals(call):
    """The caller's ARN as moto's GetCallerIdentity answers it (plain test credentials:
    `arn:aws:sts::<account>:user/moto`; an IAM user's keys: the user; assumed-role keys:
    `arn:aws:sts::<account>:assumed-role/<role>/<session>`), and the principals a trust
    policy may name for it: its account id and root, its ARN, and the role of
    assumed-role keys."""
    from moto.sts.models import sts_backends
    from moto.utilities.utils import get_partition
    region = call.region or "us-east-1"
    backend = sts_backends[call.account][get_partition(region)]
    _, arn, _ = backend.get_caller_identity(call.access_key, region)
    principals = {call.account, f"arn:aws:iam::{call.account}:root", arn}
    assumed = backend.get_assumed_role_from_access_key(call.access_key)
    if assumed is not None:
        principals.add(assumed.role_arn)
    return arn, principals


def _epoch(text):
    try:
        parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.timestamp()


def _trust_policy(account, role_arn):
    """The role's trust policy, or None when `account`'s IAM has no such role."""
    from moto.iam.models import iam_backends
    try:
        doc = iam_backends[account]["aws"].get_role_by_arn(role_arn).assume_role_policy_document
    except Exception:
        return None
    if isinstance(doc, str):
        try:
            doc = json.loads(doc)
        except ValueError:
            try:
                doc = json.loads(unquote(doc))
            except ValueError:
                return None
    return doc


def _allows(policy, principals, params):
    """An Allow applies and no Deny does."""
    allowed = False
    for st in _list(policy.get("Statement")):
        if not isinstance(st, dict):
            continue
        deny = st.get("Effect") == "Deny"
        if _applies(st, principals, params, deny):
            if deny:
                return False
            allowed = True
    return allowed


def _applies(st, principals, params, deny):
    """Whether a statement applies to this AssumeRole. What is not understood here
    (NotPrincipal, NotAction, a condition other than StringEquals on sts:ExternalId)
    applies for a Deny and not for an Allow: refuse rather than allow."""
    if "NotPrincipal" in st or "NotAction" in st:
        return deny
    if not _acts(st) or not _principal(st, principals):
        return False
    met = _conditions(st.get("Condition"), params)
    return deny if met is None else met


def _list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _acts(statement):
    return any(isinstance(a, str) and fnmatch.fnmatchcase("sts:assumerole", a.lower())
               for a in _list(statement.get("Action")))


def _principal(statement, principals):
    p = statement.get("Principal")
    if p == "*":
        return True
    if not isinstance(p, dict):
        return False
    return any(a == "*" or a in principals for a in _list(p.get("AWS")))


def _conditions(condition, params):
    """True when every condition is met, False when one is not, None when one is not
    understood (only StringEquals on sts:ExternalId is; a list means any of them)."""
    met, unknown = True, False
    for operator, tests in (condition or {}).items():
        if operator != "StringEquals" or not isinstance(tests, dict):
            unknown = True
            continue
        for key, wanted in tests.items():
            if key.lower() != "sts:externalid":
                unknown = True
            elif params.get("ExternalId") not in [str(w) for w in _list(wanted)]:
                met = False
    return False if not met else (None if unknown else True)
